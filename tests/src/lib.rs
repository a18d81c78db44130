//! Integration tests of goverse; the tests live in `tests/tests/`.
