//! `goverse db …`: the persistence admin commands, over [`goverse::Database`].

use std::path::Path;
use std::process::ExitCode;

use goverse::Database;
use goverse::persistence::CallFilter;

use crate::render;
use crate::{DbCommand, Failure, Output};

/// Opens the database at `url` and runs `command` on it.
pub(crate) async fn run(
    url: &str,
    command: DbCommand,
    output: &mut Output,
) -> Result<ExitCode, Failure> {
    if url == "memory:" {
        return Err(Failure::new(
            "`memory:` is a store inside one process; give the database of the nodes \
             (postgres://… or sqlite:path)",
        ));
    }
    // `Database::connect` creates a missing SQLite file; only `migrate` should, so that a
    // mistyped path reads as an error instead of as an empty database.
    if !matches!(command, DbCommand::Migrate)
        && let Some(path) = sqlite_path(url)
        && !Path::new(path).exists()
    {
        return Err(Failure::new(format!(
            "SQLite database `{path}` does not exist (run `goverse db migrate` to create it)"
        )));
    }
    let database = Database::connect(url).await?;
    match command {
        DbCommand::Migrate => {
            output.out(format!("{}: schema is up to date", database.provider()));
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Objects { object_type, limit } => {
            let objects = database.list_objects(object_type.as_deref(), limit).await?;
            if objects.is_empty() {
                output.note(match &object_type {
                    Some(t) => format!("no stored objects of type {t}"),
                    None => "no stored objects".to_string(),
                });
            } else {
                output.out(render::objects_table(&objects));
                note_limit(output, objects.len(), limit, "objects");
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Show {
            object_type,
            object_id,
            json,
        } => {
            let record = database
                .object(&object_type, &object_id)
                .await?
                .ok_or_else(|| no_object(&object_type, &object_id))?;
            if json {
                output.out(render::object_json(&record));
            } else {
                output.out(render::pretty(&render::parse_json(&record.state_json)));
                output.note(render::object_summary(&record));
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Delete {
            object_type,
            object_id,
            yes,
        } => {
            let record = database
                .object(&object_type, &object_id)
                .await?
                .ok_or_else(|| no_object(&object_type, &object_id))?;
            let warning = format!(
                "warning: {object_type}/{object_id} must not be active on any node: a node that \
                 has it active keeps its state in memory and would save it again"
            );
            if !yes {
                output.note(format!("would delete {}", render::object_summary(&record)));
                output.note(warning);
                output.note(format!(
                    "nothing deleted; to delete it, run again with --yes: goverse db delete \
                     {object_type} {object_id} --yes"
                ));
                return Ok(ExitCode::FAILURE);
            }
            output.note(warning);
            if !database.delete_object(&object_type, &object_id).await? {
                // Deleted by someone else between the two round trips.
                return Err(no_object(&object_type, &object_id));
            }
            output.out(format!(
                "deleted {object_type}/{object_id} (was version {})",
                record.version
            ));
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Calls {
            object_type,
            object_id,
            status,
            limit,
        } => {
            let filter = CallFilter {
                object_type,
                object_id,
                status: status.map(Into::into),
                limit,
            };
            let calls = database.list_calls(&filter).await?;
            if calls.is_empty() {
                output.note("no reliable calls match");
            } else {
                output.out(render::calls_table(&calls));
                note_limit(output, calls.len(), limit, "calls");
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Call { call_id } => {
            let record = database
                .call(&call_id)
                .await?
                .ok_or_else(|| Failure::new(format!("no reliable call with id `{call_id}`")))?;
            output.out(render::call_json(&record));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The file of a `sqlite:` URL, as [`Database::connect`] reads it.
fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite:")
        .map(|path| path.trim_start_matches("//"))
}

/// The failure for an object with no stored state.
fn no_object(object_type: &str, object_id: &str) -> Failure {
    Failure::new(format!("no stored object {object_type}/{object_id}"))
}

/// Says on stderr that a listing may have been cut at `limit`.
fn note_limit(output: &mut Output, shown: usize, limit: u32, what: &str) {
    if u32::try_from(shown).is_ok_and(|shown| shown >= limit) {
        output.note(format!(
            "showing the first {limit} {what}; pass --limit to see more"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_as_goverse_reads_them() {
        assert_eq!(sqlite_path("sqlite:data/x.db"), Some("data/x.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }
}
