//! `goverse`: the command-line tool of the goverse runtime.
//!
//! `goverse db …` administers the store that holds object state and the reliable-call log
//! (PostgreSQL or SQLite), through the public [`goverse::Database`] API only: create or migrate
//! the schema, list, show and delete stored objects, list and inspect reliable calls.
//!
//! Errors are one line `error: …` on stderr and exit code 1; usage errors exit with 2.

mod db;
mod render;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "goverse", version, about = "The goverse command-line tool")]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Administer the persistence database: schema, stored objects, reliable calls.
    Db(DbArgs),
}

/// `goverse db`: the database and what to do with it.
#[derive(Debug, Args)]
struct DbArgs {
    /// The database: `postgres://user:password@host:port/db` or `sqlite:path/to/file`.
    #[arg(
        long,
        global = true,
        env = "GOVERSE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database: Option<String>,

    /// The database command.
    #[command(subcommand)]
    command: DbCommand,
}

/// The commands of `goverse db`.
#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Create the schema, or migrate it to this version of goverse.
    Migrate,
    /// List stored objects, most recently updated first.
    Objects {
        /// Only objects of this type.
        #[arg(long = "type", value_name = "TYPE")]
        object_type: Option<String>,
        /// At most this many objects.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Print a stored object's state as JSON (metadata on stderr).
    Show {
        /// The object's type.
        #[arg(value_name = "TYPE")]
        object_type: String,
        /// The object's id.
        #[arg(value_name = "ID")]
        object_id: String,
        /// Print one JSON document with the metadata and the state instead.
        #[arg(long)]
        json: bool,
    },
    /// Delete a stored object (only while no node has it active).
    Delete {
        /// The object's type.
        #[arg(value_name = "TYPE")]
        object_type: String,
        /// The object's id.
        #[arg(value_name = "ID")]
        object_id: String,
        /// Really delete; without it the command only says what it would delete.
        #[arg(long)]
        yes: bool,
    },
    /// List reliable calls, oldest first.
    Calls {
        /// Only calls to objects of this type.
        #[arg(long = "type", value_name = "TYPE")]
        object_type: Option<String>,
        /// Only calls to objects with this id.
        #[arg(long = "id", value_name = "ID")]
        object_id: Option<String>,
        /// Only calls with this status.
        #[arg(long, value_enum)]
        status: Option<Status>,
        /// At most this many calls.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Print one reliable call (arguments, status, result or error) as JSON.
    Call {
        /// The call id.
        #[arg(value_name = "CALL_ID")]
        call_id: String,
    },
}

/// A reliable call's status, as `--status` takes it.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Status {
    /// Recorded, not executed yet.
    Pending,
    /// Executed; the method returned a result.
    Success,
    /// Executed; the method returned an error.
    Failed,
    /// Never executed.
    Skipped,
}

impl From<Status> for goverse::CallStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => goverse::CallStatus::Pending,
            Status::Success => goverse::CallStatus::Success,
            Status::Failed => goverse::CallStatus::Failed,
            Status::Skipped => goverse::CallStatus::Skipped,
        }
    }
}

/// A failed command: the one line printed after `error: `.
#[derive(Debug)]
struct Failure(String);

impl Failure {
    /// A failure with this message.
    fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }
}

impl From<goverse::Error> for Failure {
    fn from(error: goverse::Error) -> Self {
        Failure(error.message().to_string())
    }
}

/// What a command prints on stdout and stderr; written by [`main`] once the command is done.
#[derive(Debug, Default)]
struct Output {
    /// For stdout: tables and JSON, what a script would read.
    stdout: String,
    /// For stderr: metadata, notes and warnings for the person at the terminal.
    stderr: String,
}

impl Output {
    /// Appends a line to stdout.
    fn out(&mut self, line: impl AsRef<str>) {
        self.stdout.push_str(line.as_ref());
        self.stdout.push('\n');
    }

    /// Appends a line to stderr.
    fn note(&mut self, line: impl AsRef<str>) {
        self.stderr.push_str(line.as_ref());
        self.stderr.push('\n');
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(&Failure::new(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    let mut output = Output::default();
    let result = runtime.block_on(run(cli, &mut output));
    write_all(&output);
    match result {
        Ok(code) => code,
        Err(failure) => fail(&failure),
    }
}

/// Runs the command, collecting what it prints into `output`.
async fn run(cli: Cli, output: &mut Output) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Db(args) => {
            let Some(url) = args.database else {
                return Err(Failure::new(
                    "no database given: pass --database <URL> or set GOVERSE_DATABASE_URL \
                     (postgres://user:password@host:port/db or sqlite:path)",
                ));
            };
            db::run(&url, args.command, output).await
        }
    }
}

/// Writes what the command printed; a closed pipe (`goverse db objects | head`) is not an error.
fn write_all(output: &Output) {
    let _ = io::stdout().lock().write_all(output.stdout.as_bytes());
    let _ = io::stderr().lock().write_all(output.stderr.as_bytes());
}

/// Prints `failure` as one line on stderr and returns exit code 1.
fn fail(failure: &Failure) -> ExitCode {
    let line = failure.0.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("error: {line}");
    ExitCode::FAILURE
}
