//! Compile tests of goverse's macros: `pass/` must compile, `fail/` must fail with the
//! `.stderr` beside each case. Run with `cargo test -p goverse-ui-tests`; refresh snapshots
//! with `TRYBUILD=overwrite`.
