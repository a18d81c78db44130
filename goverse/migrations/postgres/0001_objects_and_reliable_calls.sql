-- Object state (the object's serde form as JSONB) with its version for optimistic concurrency,
-- and the reliable-call log keyed by the caller's call id.

CREATE TABLE goverse_objects (
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    state       JSONB NOT NULL,
    version     BIGINT NOT NULL CHECK (version > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (object_type, object_id)
);

CREATE INDEX goverse_objects_updated_at ON goverse_objects (updated_at);

CREATE TABLE goverse_reliable_calls (
    seq         BIGSERIAL NOT NULL UNIQUE,
    call_id     TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    method      TEXT NOT NULL,
    args        JSONB NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'success', 'failed', 'skipped')),
    result      JSONB,
    error       JSONB,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT goverse_reliable_calls_success_has_result
        CHECK (status <> 'success' OR result IS NOT NULL),
    CONSTRAINT goverse_reliable_calls_failure_has_error
        CHECK (status NOT IN ('failed', 'skipped') OR error IS NOT NULL)
);

CREATE INDEX goverse_reliable_calls_object
    ON goverse_reliable_calls (object_type, object_id, status, seq);
