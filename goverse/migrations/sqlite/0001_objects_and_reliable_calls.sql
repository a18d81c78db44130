-- Object state (the object's serde form as JSON text) with its version for optimistic
-- concurrency, and the reliable-call log keyed by the caller's call id. Timestamps are
-- milliseconds since the Unix epoch.

CREATE TABLE goverse_objects (
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (json_valid(state)),
    version     INTEGER NOT NULL CHECK (version > 0),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (object_type, object_id)
);

CREATE INDEX goverse_objects_updated_at ON goverse_objects (updated_at);

CREATE TABLE goverse_reliable_calls (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     TEXT NOT NULL UNIQUE,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    method      TEXT NOT NULL,
    args        TEXT NOT NULL CHECK (json_valid(args)),
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'success', 'failed', 'skipped')),
    result      TEXT CHECK (result IS NULL OR json_valid(result)),
    error       TEXT CHECK (error IS NULL OR json_valid(error)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT goverse_reliable_calls_success_has_result
        CHECK (status <> 'success' OR result IS NOT NULL),
    CONSTRAINT goverse_reliable_calls_failure_has_error
        CHECK (status NOT IN ('failed', 'skipped') OR error IS NOT NULL)
);

CREATE INDEX goverse_reliable_calls_object
    ON goverse_reliable_calls (object_type, object_id, status, seq);
