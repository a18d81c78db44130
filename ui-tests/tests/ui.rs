//! Compile tests of `#[goverse::object]` and its inner attributes: every case in `pass/` must
//! compile (and run), every case in `fail/<concern>/` must fail with the `.stderr` beside it.
//!
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test -p goverse-ui-tests`, then read
//! each changed `.stderr`: the error must point at the offending token and say how to fix it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*/*.rs");
}
