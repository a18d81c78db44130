#!/usr/bin/env python3
"""An independent client of goverse's gate, for the wire-compatibility test.

It shares no code with goverse: the gRPC stubs are generated at run time, with Python's
grpcio-tools, from goverse/proto/gate/gate.proto (GoVerse's `gate.GateService`) and from
tests/python/demo.proto (`demo.Ping`, `demo.Pong`); the HTTP side uses only the standard
library. tests/tests/gate_python.rs starts a node with a gate and an object type `PyDemo`
(methods `ping(Proto<Ping>) -> Proto<Pong>`, which pushes to the calling client, `add(n) -> i64`,
`fail(Proto<Ping>)`, an application error, and `calls() -> i64`), then runs:

    gate_client.py --grpc 127.0.0.1:PORT --http 127.0.0.1:PORT --run RUN_ID

The script prints exactly one JSON line, `{"ok": bool, "failures": [...], "results": {...}}`,
and exits non-zero if any check failed (or anything raised).
"""

import argparse
import base64
import http.client
import importlib
import importlib.resources
import json
import os
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GATE_PROTO_DIR = os.path.join(REPO, "goverse", "proto", "gate")
DEMO_PROTO_DIR = HERE

# How long any single read may block (a stream that never delivers fails the run).
TIMEOUT = 30.0
TYPE = "PyDemo"
JSON_TYPE_URL = "type.goverse.dev/json"


class Checks:
    """Collects results and failed expectations."""

    def __init__(self):
        self.failures = []
        self.results = {}

    def expect(self, name, condition, detail=None):
        if not condition:
            self.failures.append({"check": name, "detail": detail})
        return condition

    def equal(self, name, got, want):
        return self.expect(name, got == want, {"got": got, "want": want})


def generate_stubs(out_dir):
    """Runs grpc_tools.protoc on gate.proto and demo.proto into out_dir; imports the modules."""
    from grpc_tools import protoc

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    for include, proto in ((GATE_PROTO_DIR, "gate.proto"), (DEMO_PROTO_DIR, "demo.proto")):
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{include}",
                f"-I{well_known}",
                f"--python_out={out_dir}",
                f"--grpc_python_out={out_dir}",
                proto,
            ]
        )
        if code != 0:
            raise RuntimeError(f"protoc failed on {proto} with exit code {code}")
    sys.path.insert(0, out_dir)
    return (
        importlib.import_module("gate_pb2"),
        importlib.import_module("gate_pb2_grpc"),
        importlib.import_module("demo_pb2"),
    )


def pack(message):
    from google.protobuf import any_pb2

    any_message = any_pb2.Any()
    any_message.Pack(message)
    return any_message


def json_any(value):
    from google.protobuf import any_pb2

    return any_pb2.Any(type_url=JSON_TYPE_URL, value=json.dumps(value).encode())


def unpack(any_message, cls, checks, name):
    message = cls()
    if not checks.expect(
        f"{name}: Any holds {cls.DESCRIPTOR.full_name}",
        any_message.Is(cls.DESCRIPTOR),
        {"type_url": any_message.type_url},
    ):
        return None
    any_message.Unpack(message)
    return message


def pong_dict(pong):
    return None if pong is None else {"text": pong.text, "n": pong.n, "calls": pong.calls}


def run_grpc(address, run, checks, gate_pb2, gate_grpc, demo_pb2):
    """GoVerse's gate.GateService through Python's grpcio."""
    import grpc

    results = checks.results.setdefault("grpc", {})
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    stub = gate_grpc.GateServiceStub(channel)

    # Register: the first message packs a RegisterResponse.
    stream = stub.Register(gate_pb2.Empty(), timeout=120)
    first = next(stream)
    registered = unpack(first, gate_pb2.RegisterResponse, checks, "register")
    client_id = registered.client_id if registered else ""
    results["client_id"] = client_id
    checks.expect("register: a client id <gate address>/<unique>", "/" in client_id, client_id)

    # CallObject with a protobuf message, tied to the registered client.
    obj = f"{run}-grpc"
    response = stub.CallObject(
        gate_pb2.CallObjectRequest(
            client_id=client_id,
            type=TYPE,
            id=obj,
            method="ping",
            request=pack(demo_pb2.Ping(text="hello", n=21)),
        ),
        timeout=TIMEOUT,
    )
    pong = unpack(response.response, demo_pb2.Pong, checks, "CallObject ping")
    results["ping"] = pong_dict(pong)
    checks.equal("CallObject ping", pong_dict(pong), {"text": "pong:hello", "n": 42, "calls": 1})

    # The object pushed two messages to this client: a protobuf Pong, then a JSON value.
    pushed = unpack(next(stream), demo_pb2.Pong, checks, "push 1")
    results["push_proto"] = pong_dict(pushed)
    checks.equal("push 1 (protobuf)", pong_dict(pushed), {"text": "pushed:hello", "n": 21, "calls": 1})
    second = next(stream)
    results["push_json"] = {"type_url": second.type_url, "value": second.value.decode(errors="replace")}
    checks.equal("push 2 type URL", second.type_url, JSON_TYPE_URL)
    if second.type_url == JSON_TYPE_URL:
        checks.equal("push 2 (JSON)", json.loads(second.value), {"event": "pinged", "text": "hello"})

    # JSON arguments in a type.goverse.dev/json Any; the answer comes back the same way.
    response = stub.CallObject(
        gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="add", request=json_any({"n": 5})),
        timeout=TIMEOUT,
    )
    results["add"] = {"type_url": response.response.type_url, "value": response.response.value.decode()}
    checks.equal("CallObject add (JSON Any)", results["add"], {"type_url": JSON_TYPE_URL, "value": "5"})

    # Reliable calls: the same call id twice runs once and answers the same.
    call_id = f"{run}-reliable-1"
    reliable = gate_pb2.ReliableCallObjectRequest(
        call_id=call_id, type=TYPE, id=obj, method="ping", request=pack(demo_pb2.Ping(text="once", n=1))
    )
    first_answer = stub.ReliableCallObject(reliable, timeout=TIMEOUT)
    second_answer = stub.ReliableCallObject(reliable, timeout=TIMEOUT)
    results["reliable"] = [
        {"status": a.status, "error": a.error, "pong": pong_dict(unpack(a.response, demo_pb2.Pong, checks, "reliable"))}
        for a in (first_answer, second_answer)
    ]
    checks.equal("reliable 1 status", first_answer.status, "SUCCESS")
    checks.equal("reliable 2 status", second_answer.status, "SUCCESS")
    checks.equal(
        "reliable: the same answer twice",
        second_answer.response.SerializeToString(),
        first_answer.response.SerializeToString(),
    )
    # ping, add, then the reliable ping: the third run.
    checks.equal("reliable: ran once", results["reliable"][0]["pong"], {"text": "pong:once", "n": 2, "calls": 3})
    calls = stub.CallObject(
        gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="calls", request=json_any({})), timeout=TIMEOUT
    )
    results["calls_after_reliable"] = json.loads(calls.response.value)
    checks.equal("reliable: the method ran once", results["calls_after_reliable"], 3)
    # The same call id for other arguments is refused in-band, without running.
    reused = stub.ReliableCallObject(
        gate_pb2.ReliableCallObjectRequest(
            call_id=call_id, type=TYPE, id=obj, method="ping", request=pack(demo_pb2.Ping(text="other", n=1))
        ),
        timeout=TIMEOUT,
    )
    results["reliable_reused"] = {"status": reused.status, "error": reused.error}
    checks.equal("reliable: a reused call id is SKIPPED", reused.status, "SKIPPED")
    # An application error is FAILED with its message.
    failed = stub.ReliableCallObject(
        gate_pb2.ReliableCallObjectRequest(
            call_id=f"{run}-reliable-2", type=TYPE, id=obj, method="fail", request=pack(demo_pb2.Ping(text="x"))
        ),
        timeout=TIMEOUT,
    )
    results["reliable_failed"] = {"status": failed.status, "error": failed.error}
    checks.equal("reliable: an application error is FAILED", failed.status, "FAILED")
    checks.expect("reliable: FAILED carries the message", "ping refused" in failed.error, failed.error)

    # CreateObject with an id, and with none (a generated `<type>-<unique>` id).
    created = stub.CreateObject(gate_pb2.CreateObjectRequest(type=TYPE, id=f"{run}-created"), timeout=TIMEOUT)
    results["created"] = created.id
    checks.equal("CreateObject id", created.id, f"{run}-created")
    generated = stub.CreateObject(gate_pb2.CreateObjectRequest(type=TYPE), timeout=TIMEOUT)
    results["created_generated"] = generated.id
    checks.expect("CreateObject without id", generated.id.startswith(f"{TYPE}-"), generated.id)

    # DeleteObject drops the state: the next call starts a fresh activation.
    before = stub.CallObject(
        gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="calls", request=json_any({})), timeout=TIMEOUT
    )
    stub.DeleteObject(gate_pb2.DeleteObjectRequest(id=obj, type=TYPE), timeout=TIMEOUT)
    after = stub.CallObject(
        gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="calls", request=json_any({})), timeout=TIMEOUT
    )
    results["delete"] = {"before": json.loads(before.response.value), "after": json.loads(after.response.value)}
    checks.equal("DeleteObject: a fresh object after", results["delete"], {"before": 3, "after": 0})

    # Errors are gRPC statuses.
    def status_of(request, method="CallObject"):
        try:
            getattr(stub, method)(request, timeout=TIMEOUT)
        except grpc.RpcError as error:
            trailers = {key: value for key, value in (error.trailing_metadata() or ())}
            return {"code": error.code().name, "details": error.details(), "trailers": trailers}
        return {"code": "OK"}

    ping = pack(demo_pb2.Ping(text="x"))
    errors = {
        "unknown_method": status_of(gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="nope", request=ping)),
        "unknown_type": status_of(gate_pb2.CallObjectRequest(type="NoSuchType", id=obj, method="ping", request=ping)),
        "app_error": status_of(gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="fail", request=ping)),
        "wrong_message": status_of(
            gate_pb2.CallObjectRequest(type=TYPE, id=obj, method="ping", request=pack(demo_pb2.Pong(text="x")))
        ),
        "foreign_client_id": status_of(
            gate_pb2.CallObjectRequest(client_id="127.0.0.1:1/forged", type=TYPE, id=obj, method="ping", request=ping)
        ),
        "create_without_type": status_of(gate_pb2.CreateObjectRequest(id="x"), "CreateObject"),
    }
    results["errors"] = errors
    checks.equal("unknown method", errors["unknown_method"]["code"], "NOT_FOUND")
    checks.equal("unknown type", errors["unknown_type"]["code"], "NOT_FOUND")
    checks.equal("application error", errors["app_error"]["code"], "FAILED_PRECONDITION")
    checks.equal("application error code trailer", errors["app_error"]["trailers"].get("goverse-error-code"), "refused")
    checks.equal("wrong message type", errors["wrong_message"]["code"], "INVALID_ARGUMENT")
    checks.expect(
        "wrong message type names demo.Ping",
        "demo.Ping" in (errors["wrong_message"].get("details") or ""),
        errors["wrong_message"],
    )
    checks.equal("foreign client id", errors["foreign_client_id"]["code"], "PERMISSION_DENIED")
    checks.equal("create without type", errors["create_without_type"]["code"], "INVALID_ARGUMENT")

    stream.cancel()
    channel.close()


class Sse:
    """A server-sent events stream read with http.client (chunked transfer decoded by it)."""

    def __init__(self, host, port, path):
        self.connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.content_type = self.response.getheader("Content-Type", "")

    def next_event(self, skip=("heartbeat",)):
        """The next event as (name, data), skipping the named kinds."""
        while True:
            name, data = "message", []
            while True:
                line = self.response.readline()
                if not line:
                    raise EOFError("the event stream ended")
                line = line.decode().rstrip("\r\n")
                if line == "":
                    break
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
            if not data and name == "message":
                continue
            if name in skip:
                continue
            return name, "\n".join(data)

    def close(self):
        self.connection.close()


def http_request(host, port, method, path, body=None, headers=None):
    """One request on a fresh connection: (status, headers, parsed JSON or text)."""
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, dict(response.getheaders()), parsed
    finally:
        connection.close()


def b64_any(message):
    return base64.b64encode(pack(message).SerializeToString()).decode()


def any_from_b64(text):
    from google.protobuf import any_pb2

    any_message = any_pb2.Any()
    any_message.ParseFromString(base64.b64decode(text))
    return any_message


def run_http(address, run, checks, demo_pb2):
    """GoVerse's HTTP API (base64 Any bodies, SSE pushes) and goverse's JSON API."""
    results = checks.results.setdefault("http", {})
    host, port = address.rsplit(":", 1)
    port = int(port)

    stream = Sse(host, port, "/api/v1/events/stream")
    checks.equal("SSE status", stream.status, 200)
    checks.expect("SSE content type", stream.content_type.startswith("text/event-stream"), stream.content_type)
    name, data = stream.next_event()
    checks.equal("SSE first event", name, "register")
    client_id = json.loads(data).get("clientId", "")
    results["client_id"] = client_id
    checks.expect("SSE client id", "/" in client_id, data)

    obj = f"{run}-http"
    status, _, body = http_request(
        host,
        port,
        "POST",
        f"/api/v1/objects/call/{TYPE}/{obj}/ping",
        {"request": b64_any(demo_pb2.Ping(text="web", n=4))},
        {"X-Client-ID": client_id},
    )
    results["ping"] = {"status": status, "body": body}
    pong = None
    if checks.equal("HTTP call status", status, 200):
        pong = unpack(any_from_b64(body["response"]), demo_pb2.Pong, checks, "HTTP call")
    checks.equal("HTTP call ping", pong_dict(pong), {"text": "pong:web", "n": 8, "calls": 1})

    # The pushes arrive as `message` events: the protobuf one as a base64 Any, the JSON one
    # also with its value.
    name, data = stream.next_event()
    event = json.loads(data)
    pushed = unpack(any_from_b64(event["payload"]), demo_pb2.Pong, checks, "SSE push 1")
    results["push_proto"] = {"event": name, "type": event.get("type"), "pong": pong_dict(pushed)}
    checks.equal(
        "SSE push 1",
        results["push_proto"],
        {"event": "message", "type": "type.googleapis.com/demo.Pong", "pong": {"text": "pushed:web", "n": 4, "calls": 1}},
    )
    name, data = stream.next_event()
    event = json.loads(data)
    results["push_json"] = {"event": name, "type": event.get("type"), "json": event.get("json")}
    checks.equal(
        "SSE push 2",
        results["push_json"],
        {"event": "message", "type": JSON_TYPE_URL, "json": {"event": "pinged", "text": "web"}},
    )
    json_payload = any_from_b64(event["payload"])
    checks.equal("SSE push 2 payload", json.loads(json_payload.value), {"event": "pinged", "text": "web"})
    stream.close()

    # Create and delete.
    status, _, body = http_request(host, port, "POST", f"/api/v1/objects/create/{TYPE}/{run}-http-created")
    results["create"] = {"status": status, "body": body}
    checks.equal("HTTP create", results["create"], {"status": 200, "body": {"id": f"{run}-http-created"}})
    status, _, body = http_request(host, port, "POST", f"/api/v1/objects/delete/{TYPE}/{obj}")
    results["delete"] = {"status": status, "body": body}
    checks.equal("HTTP delete", results["delete"], {"status": 200, "body": {"success": True}})

    # The JSON-native API: named arguments in, the result as JSON out; a fresh object after delete.
    status, _, body = http_request(host, port, "POST", f"/v1/objects/{TYPE}/{obj}/add", {"n": 7})
    results["native_add"] = {"status": status, "body": body}
    checks.equal("JSON API add", results["native_add"], {"status": 200, "body": 7})
    status, headers, body = http_request(
        host, port, "POST", f"/v1/objects/{TYPE}/{obj}/add", {"n": 1}, {"Idempotency-Key": f"{run}-http-key"}
    )
    status2, headers2, body2 = http_request(
        host, port, "POST", f"/v1/objects/{TYPE}/{obj}/add", {"n": 1}, {"Idempotency-Key": f"{run}-http-key"}
    )
    call_status = lambda h: {k.lower(): v for k, v in h.items()}.get("goverse-call-status")
    results["native_reliable"] = [
        {"status": status, "body": body, "call_status": call_status(headers)},
        {"status": status2, "body": body2, "call_status": call_status(headers2)},
    ]
    checks.equal(
        "JSON API reliable twice",
        results["native_reliable"],
        [{"status": 200, "body": 8, "call_status": "SUCCESS"}] * 2,
    )

    # Errors: GoVerse's {"error", "code"} with the HTTP status.
    status, _, body = http_request(
        host, port, "POST", f"/api/v1/objects/call/{TYPE}/{obj}/nope", {"request": b64_any(demo_pb2.Ping())}
    )
    results["unknown_method"] = {"status": status, "body": body}
    checks.equal("HTTP unknown method status", status, 404)
    checks.expect("HTTP error body", isinstance(body, dict) and "error" in body and "code" in body, body)
    status, _, body = http_request(
        host, port, "POST", f"/api/v1/objects/call/{TYPE}/{obj}/ping", {"request": "%%% not base64"}
    )
    results["bad_base64"] = {"status": status, "body": body}
    checks.equal("HTTP bad base64", (status, isinstance(body, dict) and body.get("code")), (400, "INVALID_BASE64"))
    status, _, body = http_request(
        host,
        port,
        "POST",
        f"/api/v1/objects/call/{TYPE}/{obj}/ping",
        {"request": b64_any(demo_pb2.Ping())},
        {"X-Client-ID": "127.0.0.1:1/forged"},
    )
    results["foreign_client_id"] = {"status": status, "body": body}
    checks.equal("HTTP foreign client id", status, 403)
    status, _, body = http_request(
        host, port, "POST", f"/api/v1/objects/call/{TYPE}/{obj}/fail", {"request": b64_any(demo_pb2.Ping(text="x"))}
    )
    results["app_error"] = {"status": status, "body": body}
    checks.expect(
        "HTTP application error keeps its code",
        status >= 400 and isinstance(body, dict) and "[refused]" in str(body.get("error")),
        results["app_error"],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc", required=True, help="host:port of the gate's gRPC service")
    parser.add_argument("--http", required=True, help="host:port of the gate's HTTP API")
    parser.add_argument("--run", default="py", help="a prefix for object and call ids")
    args = parser.parse_args()

    checks = Checks()
    try:
        with tempfile.TemporaryDirectory(prefix="goverse-gate-stubs-") as out_dir:
            gate_pb2, gate_grpc, demo_pb2 = generate_stubs(out_dir)
            import grpc
            import google.protobuf

            checks.results["versions"] = {"grpcio": grpc.__version__, "protobuf": google.protobuf.__version__}
            run_grpc(args.grpc, args.run, checks, gate_pb2, gate_grpc, demo_pb2)
            run_http(args.http, args.run, checks, demo_pb2)
    except Exception as error:  # any failure is a failed run, reported in the JSON line
        checks.failures.append({"check": "exception", "detail": repr(error), "trace": traceback.format_exc()})
    ok = not checks.failures
    print(json.dumps({"ok": ok, "failures": checks.failures, "results": checks.results}, default=repr))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
