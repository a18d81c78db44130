//! The `goverse` binary against real databases: SQLite files filled by an embedded node, and a
//! throwaway PostgreSQL server (`postgres_migrate_objects_and_show`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use goverse::prelude::*;
use goverse_tests::harness::Postgres;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A wallet saved after every exclusive turn.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Wallet {
    /// The current balance.
    pub balance: i64,
    /// The owner's name, set by the first deposit.
    pub owner: String,
}

#[goverse::object(persist(every_turn))]
impl Wallet {
    /// Adds `amount` for `owner`.
    #[method]
    pub async fn deposit(&mut self, owner: String, amount: i64) -> i64 {
        self.owner = owner;
        self.balance += amount;
        self.balance
    }

    /// Takes `amount` out, or fails with the application error `insufficient`.
    #[method]
    pub async fn withdraw(&mut self, amount: i64) -> Result<i64, goverse::Error> {
        if amount > self.balance {
            return Err(goverse::Error::app(
                "insufficient",
                format!("balance {} is below {amount}", self.balance),
            ));
        }
        self.balance -= amount;
        Ok(self.balance)
    }
}

/// A second persistent type, for `--type` filters.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tag {
    /// The tag's label.
    pub label: String,
}

#[goverse::object(persist(every_turn))]
impl Tag {
    /// Sets the label.
    #[method]
    pub async fn set(&mut self, label: String) {
        self.label = label;
    }
}

/// The call id of the successful reliable deposit made by [`fill`].
const DEPOSIT_CALL: &str = "cli-deposit-1";
/// The call id of the failed reliable withdrawal made by [`fill`].
const WITHDRAW_CALL: &str = "cli-withdraw-1";

/// A temporary directory with a SQLite database file in it, filled by an embedded node.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fixture {
    /// An empty (not even created) database file.
    fn empty() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("goverse.db");
        Fixture { _dir: dir, path }
    }

    /// A database with wallets `alice` (balance 12, owner "Alice") and `bob`, tag `red`, one
    /// successful and one failed reliable call.
    fn filled() -> Fixture {
        let fixture = Fixture::empty();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(fill(&fixture.path));
        fixture
    }

    /// The stored version of an object, read through the library rather than the tool.
    fn version(&self, object_type: &str, object_id: &str) -> i64 {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let database = goverse::Database::sqlite(&self.path).await.unwrap();
            database
                .object(object_type, object_id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{object_type}/{object_id} is not stored"))
                .version
        })
    }

    /// The `--database` URL.
    fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    /// Runs `goverse db <args> --database <this file>`.
    fn db(&self, args: &[&str]) -> Run {
        db_at(&self.url(), args)
    }
}

/// Runs `goverse db <args> --database <url>`.
fn db_at(url: &str, args: &[&str]) -> Run {
    let mut all = vec!["db"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database", url]);
    goverse(&all)
}

/// Starts a node on the SQLite file at `path` and fills it (see [`fill_with`]).
async fn fill(path: &Path) {
    fill_with(Node::builder().sqlite(path)).await;
}

/// Starts a node from `builder`, makes plain and reliable calls, shuts it down.
async fn fill_with(builder: goverse::NodeBuilder) {
    let node = builder.start().await.unwrap();
    let alice = node.object::<Wallet>("alice");
    assert_eq!(alice.deposit("Alice".into(), 10).await.unwrap(), 10);
    assert_eq!(
        alice
            .reliable(DEPOSIT_CALL)
            .deposit("Alice".into(), 2)
            .await
            .unwrap(),
        12
    );
    let error = alice
        .reliable(WITHDRAW_CALL)
        .withdraw(100)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("insufficient"));
    node.object::<Wallet>("bob")
        .deposit("Bob".into(), 1)
        .await
        .unwrap();
    node.object::<Tag>("red").set("Red".into()).await.unwrap();
    node.shutdown().await.unwrap();
}

/// What a run of the binary printed and how it exited.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts exit code 0 and returns stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "the command failed: {self:#?}");
        &self.stdout
    }

    /// Asserts exit code `code` and returns stderr.
    fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self:#?}");
        &self.stderr
    }

    /// Stdout parsed as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs the built `goverse` binary with `args` (and without `GOVERSE_DATABASE_URL`).
fn goverse(args: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_goverse"))
        .args(args)
        .env_remove("GOVERSE_DATABASE_URL"))
}

fn run(command: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the goverse binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// The rows of a table printed by `objects` or `calls` (`│ a ┆ b │` lines), each split into
/// its trimmed cells; the header row first.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|line| line.starts_with('│'))
        .map(|line| {
            line.trim_matches('│')
                .split('┆')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

/// Asserts that `stderr` is exactly one line starting with `error: ` and returns it.
fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr: {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{stderr:?}");
    lines[0]
}

#[test]
fn migrate_creates_the_schema_and_an_empty_database_lists_nothing() {
    let fixture = Fixture::empty();
    let stdout = fixture.db(&["migrate"]).ok().to_string();
    assert!(stdout.contains("sqlite"), "{stdout}");
    assert!(stdout.contains("schema is up to date"), "{stdout}");
    assert!(fixture.path.exists());
    // Twice is fine.
    fixture.db(&["migrate"]).ok();

    let run = fixture.db(&["objects"]);
    assert_eq!(run.ok(), "");
    assert!(run.stderr.contains("no stored objects"), "{run:#?}");
    let run = fixture.db(&["calls"]);
    assert_eq!(run.ok(), "");
}

#[test]
fn the_database_url_may_come_from_the_environment() {
    let fixture = Fixture::empty();
    let run = run(Command::new(env!("CARGO_BIN_EXE_goverse"))
        .args(["db", "migrate"])
        .env("GOVERSE_DATABASE_URL", fixture.url()));
    assert!(run.ok().contains("schema is up to date"));
    assert!(fixture.path.exists());
}

#[test]
fn objects_lists_every_stored_object_or_those_of_one_type() {
    let fixture = Fixture::filled();
    // Saved after each of its turns: at least twice (more if the failed withdrawal was saved).
    let alice = fixture.version("Wallet", "alice");
    assert!(alice >= 2, "{alice}");
    let table = rows(fixture.db(&["objects"]).ok());
    assert_eq!(table[0], ["type", "id", "version", "updated"]);
    let mut objects: Vec<(String, String, String)> = table[1..]
        .iter()
        .map(|row| (row[0].clone(), row[1].clone(), row[2].clone()))
        .collect();
    objects.sort();
    assert_eq!(
        objects,
        [
            ("Tag".to_string(), "red".to_string(), "1".to_string()),
            ("Wallet".to_string(), "alice".to_string(), alice.to_string()),
            ("Wallet".to_string(), "bob".to_string(), "1".to_string()),
        ]
    );
    for row in &table[1..] {
        let updated: std::time::SystemTime = parse_time(&row[3]);
        let age = std::time::SystemTime::now()
            .duration_since(updated)
            .unwrap_or_default();
        assert!(age.as_secs() < 600, "updated {} is not recent", row[3]);
    }

    let table = rows(fixture.db(&["objects", "--type", "Wallet"]).ok());
    let ids: Vec<&str> = table[1..].iter().map(|row| row[1].as_str()).collect();
    assert_eq!(table.len(), 3, "{table:?}");
    assert!(ids.contains(&"alice") && ids.contains(&"bob"), "{ids:?}");

    let run = fixture.db(&["objects", "--limit", "1"]);
    assert_eq!(rows(run.ok()).len(), 2);
    assert!(run.stderr.contains("--limit"), "{run:#?}");

    let run = fixture.db(&["objects", "--type", "Nothing"]);
    assert_eq!(run.ok(), "");
}

/// Parses an RFC 3339 `...Z` time as printed by the tool.
fn parse_time(text: &str) -> std::time::SystemTime {
    // The format is fixed: YYYY-MM-DDTHH:MM:SSZ. Days from the civil date (Howard Hinnant's
    // algorithm), so the test does not share the tool's formatter.
    assert_eq!(
        text.len(),
        20,
        "not an RFC 3339 UTC time to the second: {text}"
    );
    assert!(text.ends_with('Z') && &text[10..11] == "T", "{text}");
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3_600 + mm * 60 + ss;
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap())
}

#[test]
fn show_prints_the_state_as_json_and_the_metadata_on_stderr() {
    let fixture = Fixture::filled();
    let run = fixture.db(&["show", "Wallet", "alice"]);
    let state = run.json();
    assert_eq!(state, serde_json::json!({"balance": 12, "owner": "Alice"}));
    assert!(run.stderr.contains("Wallet/alice"), "{run:#?}");
    let version = fixture.version("Wallet", "alice");
    assert!(
        run.stderr.contains(&format!("version {version},")),
        "{run:#?}"
    );

    let document = fixture.db(&["show", "Wallet", "alice", "--json"]).json();
    assert_eq!(document["type"], "Wallet");
    assert_eq!(document["id"], "alice");
    assert_eq!(document["version"], version);
    assert_eq!(document["state"]["balance"], 12);
    assert_eq!(document["state"]["owner"], "Alice");
    for key in ["created", "updated"] {
        parse_time(document[key].as_str().unwrap());
    }
}

#[test]
fn show_of_a_missing_object_exits_1_with_a_message() {
    let fixture = Fixture::filled();
    let run = fixture.db(&["show", "Wallet", "carol"]);
    let line = one_error_line(run.fails_with(1));
    assert!(line.contains("Wallet/carol"), "{line}");
    assert_eq!(run.stdout, "");
}

#[test]
fn delete_refuses_without_yes_and_deletes_with_it() {
    let fixture = Fixture::filled();
    let run = fixture.db(&["delete", "Wallet", "bob"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(stderr.contains("must not be active"), "{stderr}");
    assert!(stderr.contains("Wallet/bob"), "{stderr}");
    // Still there.
    assert_eq!(
        fixture.db(&["show", "Wallet", "bob"]).json()["owner"],
        "Bob"
    );

    let run = fixture.db(&["delete", "Wallet", "bob", "--yes"]);
    assert!(run.ok().contains("deleted Wallet/bob"), "{run:#?}");
    assert!(run.stderr.contains("must not be active"), "{run:#?}");
    one_error_line(fixture.db(&["show", "Wallet", "bob"]).fails_with(1));
    let ids: Vec<String> = rows(fixture.db(&["objects"]).ok())[1..]
        .iter()
        .map(|row| row[1].clone())
        .collect();
    assert!(!ids.contains(&"bob".to_string()), "{ids:?}");
    assert!(ids.contains(&"alice".to_string()), "{ids:?}");

    // Deleting what is not there is an error, with or without --yes.
    one_error_line(
        fixture
            .db(&["delete", "Wallet", "bob", "--yes"])
            .fails_with(1),
    );
}

#[test]
fn calls_lists_reliable_calls_with_filters() {
    let fixture = Fixture::filled();
    let table = rows(fixture.db(&["calls"]).ok());
    assert_eq!(
        table[0],
        ["seq", "call id", "object", "method", "status", "updated"]
    );
    let calls: Vec<[&str; 4]> = table[1..]
        .iter()
        .map(|row| [&*row[1], &*row[2], &*row[3], &*row[4]])
        .collect();
    assert_eq!(
        calls,
        [
            [DEPOSIT_CALL, "Wallet/alice", "deposit", "success"],
            [WITHDRAW_CALL, "Wallet/alice", "withdraw", "failed"],
        ]
    );
    let seqs: Vec<i64> = table[1..]
        .iter()
        .map(|row| row[0].parse().unwrap())
        .collect();
    assert!(seqs[0] < seqs[1], "{seqs:?}");

    let table = rows(fixture.db(&["calls", "--status", "success"]).ok());
    assert_eq!(table.len(), 2, "{table:?}");
    assert_eq!(table[1][1], DEPOSIT_CALL);
    let table = rows(
        fixture
            .db(&["calls", "--status", "failed", "--id", "alice"])
            .ok(),
    );
    assert_eq!(table.len(), 2, "{table:?}");
    assert_eq!(table[1][1], WITHDRAW_CALL);
    assert_eq!(fixture.db(&["calls", "--status", "pending"]).ok(), "");
    assert_eq!(fixture.db(&["calls", "--type", "Tag"]).ok(), "");

    // A status that does not exist is a usage error.
    fixture.db(&["calls", "--status", "done"]).fails_with(2);
}

#[test]
fn call_shows_arguments_and_result_or_error() {
    let fixture = Fixture::filled();
    let call = fixture.db(&["call", DEPOSIT_CALL]).json();
    assert_eq!(call["call_id"], DEPOSIT_CALL);
    assert_eq!(call["type"], "Wallet");
    assert_eq!(call["id"], "alice");
    assert_eq!(call["method"], "deposit");
    assert_eq!(
        call["args"],
        serde_json::json!({"owner": "Alice", "amount": 2})
    );
    assert_eq!(call["status"], "success");
    assert_eq!(call["result"], 12);
    assert_eq!(call["error"], Value::Null);

    let call = fixture.db(&["call", WITHDRAW_CALL]).json();
    assert_eq!(call["status"], "failed");
    assert_eq!(call["result"], Value::Null);
    assert_eq!(call["error"]["kind"], "application error");
    assert_eq!(call["error"]["code"], "insufficient");
    assert!(
        call["error"]["message"]
            .as_str()
            .unwrap()
            .contains("below 100"),
        "{call}"
    );

    let run = fixture.db(&["call", "no-such-call"]);
    assert!(one_error_line(run.fails_with(1)).contains("no-such-call"));
}

#[test]
fn bad_databases_give_one_error_line_and_exit_1() {
    // An unknown scheme, with a password that must not be printed.
    let run = goverse(&["db", "objects", "--database", "mysql://app:hunter2@db/x"]);
    let line = one_error_line(run.fails_with(1));
    assert!(line.contains("unknown scheme"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");

    // A PostgreSQL server that is not there: refused at once on a closed loopback port.
    let port = closed_port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/x");
    let run = goverse(&["db", "migrate", "--database", &url]);
    let line = one_error_line(run.fails_with(1));
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(!line.contains("hunter2"), "{line}");

    // A SQLite file that does not exist is not created by a read.
    let fixture = Fixture::empty();
    let line = one_error_line(fixture.db(&["objects"]).fails_with(1)).to_string();
    assert!(line.contains("does not exist"), "{line}");
    assert!(line.contains("migrate"), "{line}");
    assert!(!fixture.path.exists());

    // No database at all.
    let line = one_error_line(goverse(&["db", "objects"]).fails_with(1)).to_string();
    assert!(line.contains("GOVERSE_DATABASE_URL"), "{line}");

    // Usage errors are clap's, with exit code 2.
    goverse(&["db", "show", "Wallet"]).fails_with(2);
    goverse(&["db", "frobnicate"]).fails_with(2);
}

/// A loopback port with nothing listening on it (bound, read back, released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn postgres_migrate_objects_and_show() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(Postgres::start_async());
    let url = server.create_database("goverse_cli");

    // The tool creates the schema; the node then finds it in place.
    let stdout = db_at(&url, &["migrate"]).ok().to_string();
    assert!(stdout.contains("postgres"), "{stdout}");
    assert!(stdout.contains("schema is up to date"), "{stdout}");
    assert_eq!(db_at(&url, &["objects"]).ok(), "");

    runtime.block_on(fill_with(Node::builder().postgres(url.clone())));

    let table = rows(db_at(&url, &["objects", "--type", "Wallet"]).ok());
    assert_eq!(table[0], ["type", "id", "version", "updated"]);
    let mut ids: Vec<&str> = table[1..].iter().map(|row| row[1].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["alice", "bob"]);
    for row in &table[1..] {
        parse_time(&row[3]);
    }

    let document = db_at(&url, &["show", "Wallet", "alice", "--json"]).json();
    assert_eq!(document["state"]["balance"], 12);
    assert_eq!(document["state"]["owner"], "Alice");
    assert!(document["version"].as_i64().unwrap() >= 2, "{document}");
    one_error_line(db_at(&url, &["show", "Wallet", "carol"]).fails_with(1));

    let call = db_at(&url, &["call", DEPOSIT_CALL]).json();
    assert_eq!(call["status"], "success");
    assert_eq!(call["result"], 12);
}
