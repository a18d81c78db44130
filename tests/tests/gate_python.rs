//! Wire compatibility of the gate with a client that shares no code with goverse: Python's
//! grpcio, whose stubs `tests/python/gate_client.py` generates at run time from
//! `goverse/proto/gate/gate.proto` with grpcio-tools, and Python's standard HTTP client for
//! GoVerse's `/api/v1` API (base64 `Any` bodies, server-sent events) and the JSON API.
//!
//! The Python packages (`tests/python/requirements.txt`, pinned) are installed once per machine
//! into a virtualenv under the cargo target directory. Python 3 with `venv` must be installed
//! (`./scripts/test` installs it): without it this test fails, it is never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Node, Proto};
use serde::{Deserialize, Serialize};

/// `demo.Ping` of `tests/python/demo.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ping {
    /// Echoed back in the answer.
    #[prost(string, tag = "1")]
    pub text: String,
    /// Doubled in the answer.
    #[prost(int64, tag = "2")]
    pub n: i64,
}

impl prost::Name for Ping {
    const NAME: &'static str = "Ping";
    const PACKAGE: &'static str = "demo";
}

/// `demo.Pong` of `tests/python/demo.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Pong {
    /// `pong:<text>` for an answer, `pushed:<text>` for a push.
    #[prost(string, tag = "1")]
    pub text: String,
    /// Twice the ping's `n` for an answer, the ping's `n` for a push.
    #[prost(int64, tag = "2")]
    pub n: i64,
    /// How many times the object's methods ran.
    #[prost(int64, tag = "3")]
    pub calls: i64,
}

impl prost::Name for Pong {
    const NAME: &'static str = "Pong";
    const PACKAGE: &'static str = "demo";
}

/// The object the Python client talks to.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PyDemo {
    calls: i64,
    total: i64,
}

#[goverse::object(name = "PyDemo")]
impl PyDemo {
    /// A protobuf message in and out; pushes a `Pong` and then a JSON value to the calling
    /// client, when the call names one.
    #[method]
    pub async fn ping(&mut self, ctx: &Context, req: Proto<Ping>) -> goverse::Result<Proto<Pong>> {
        self.calls += 1;
        if let Some(client) = ctx.caller().and_then(|caller| caller.client_id.clone()) {
            let pushed = Pong {
                text: format!("pushed:{}", req.text),
                n: req.n,
                calls: self.calls,
            };
            ctx.push(&client, &Proto(pushed)).await?;
            ctx.push(
                &client,
                &serde_json::json!({ "event": "pinged", "text": req.text }),
            )
            .await?;
        }
        Ok(Proto(Pong {
            text: format!("pong:{}", req.text),
            n: req.n * 2,
            calls: self.calls,
        }))
    }

    /// Named JSON arguments: adds `n` to the total and answers it.
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.calls += 1;
        self.total += n;
        self.total
    }

    /// Always an application error with code `refused` (it does not count as a run).
    #[method]
    pub async fn fail(&mut self, req: Proto<Ping>) -> goverse::Result<Proto<Pong>> {
        Err(goverse::Error::app(
            "refused",
            format!("ping refused: {}", req.text),
        ))
    }

    /// How many times `ping` and `add` ran on this activation.
    #[method]
    pub async fn calls(&self) -> i64 {
        self.calls
    }
}

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// Runs `command`, panicking with its output unless it succeeds.
fn run(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {what} ({command:?}): {e}. The gate's Python compatibility test needs \
             python3 with the venv module (Debian: apt-get install python3 python3-venv); \
             ./scripts/test installs them"
        )
    });
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// FNV-1a of `bytes`, to name the virtualenv after the requirements it holds.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The Python interpreter of a virtualenv holding `tests/python/requirements.txt`, made once
/// per machine (per version of the requirements) under the cargo target directory. A new one
/// is built aside and renamed into place, so an interrupted install is never reused.
fn python() -> PathBuf {
    let requirements = repo().join("tests/python/requirements.txt");
    let pins = std::fs::read(&requirements).expect("tests/python/requirements.txt");
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = root.join(format!("gate-python-{:016x}", fnv(&pins)));
    let interpreter = venv.join("bin").join("python");
    if venv.join("installed").exists() {
        return interpreter;
    }
    let staging = root.join(format!(
        "gate-python-{:016x}.{}",
        fnv(&pins),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&staging),
        "python3 -m venv",
    );
    run(
        Command::new(staging.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                "-r",
            ])
            .arg(&requirements),
        "pip install -r tests/python/requirements.txt",
    );
    std::fs::write(staging.join("installed"), &pins).expect("mark the virtualenv complete");
    if std::fs::rename(&staging, &venv).is_err() {
        // Another test run finished first; use its virtualenv.
        let _ = std::fs::remove_dir_all(&staging);
        assert!(
            venv.join("installed").exists(),
            "cannot move the virtualenv into {}",
            venv.display()
        );
    }
    interpreter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_grpcio_client_speaks_to_the_gate() {
    let python = tokio::task::spawn_blocking(python)
        .await
        .expect("the virtualenv is ready");
    let node = Node::builder()
        .gate(GateConfig::default())
        .start()
        .await
        .expect("node with a gate");
    let grpc = node.gate_grpc_address().expect("gRPC gate");
    let http = node.gate_http_address().expect("HTTP gate");
    let run_id = format!("py{}", std::process::id());
    let script = repo().join("tests/python/gate_client.py");
    let child = Command::new(&python)
        .arg(&script)
        .args(["--grpc", &grpc.to_string()])
        .args(["--http", &http.to_string()])
        .args(["--run", &run_id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the Python client starts");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    let output = match tokio::time::timeout(std::time::Duration::from_secs(180), waiting).await {
        Ok(output) => output
            .expect("waiting for the Python client")
            .expect("the Python client runs"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("the Python client did not finish within 3 minutes");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    let report: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("the Python client printed no JSON line ({e}):\n{stdout}\n{stderr}")
    });
    assert!(
        output.status.success() && report["ok"] == true,
        "the Python client found mismatches ({}):\n{}\n{stderr}",
        output.status,
        serde_json::to_string_pretty(&report["failures"]).unwrap_or_default()
    );

    eprintln!("the Python client's report: {line}");
    // What the client saw, checked here too: an independent reading of the same facts.
    let results = &report["results"];
    let client_id = results["grpc"]["client_id"].as_str().unwrap_or_default();
    assert!(
        client_id.contains('/') && !client_id.ends_with('/'),
        "{client_id}"
    );
    assert_eq!(
        results["grpc"]["ping"],
        serde_json::json!({"text": "pong:hello", "n": 42, "calls": 1})
    );
    assert_eq!(
        results["grpc"]["push_proto"],
        serde_json::json!({"text": "pushed:hello", "n": 21, "calls": 1})
    );
    assert_eq!(
        results["grpc"]["reliable"][0],
        results["grpc"]["reliable"][1]
    );
    assert_eq!(results["grpc"]["reliable"][0]["status"], "SUCCESS");
    assert_eq!(
        results["grpc"]["errors"]["app_error"]["code"],
        "FAILED_PRECONDITION"
    );
    assert_eq!(
        results["http"]["push_proto"]["pong"],
        serde_json::json!({"text": "pushed:web", "n": 4, "calls": 1})
    );
    assert_eq!(
        results["http"]["native_reliable"][1]["call_status"],
        "SUCCESS"
    );

    // The objects' state as the node sees it: the Python client's calls really ran here.
    let created = results["grpc"]["created_generated"].as_str().unwrap();
    assert!(created.starts_with("PyDemo-"), "{created}");
    let grpc_object = node.object::<PyDemo>(&format!("{run_id}-grpc"));
    // Deleted by the client after three runs, then no run: a fresh activation.
    assert_eq!(grpc_object.calls().await.unwrap(), 0);
    let http_object = node.object::<PyDemo>(&format!("{run_id}-http"));
    // Deleted, then `add 7` and one reliable `add 1` (replayed once): 8, in two runs.
    assert_eq!(http_object.calls().await.unwrap(), 2);
    assert_eq!(http_object.add(0).await.unwrap(), 8);
    node.shutdown().await.unwrap();
}
