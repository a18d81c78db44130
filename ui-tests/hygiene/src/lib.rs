//! See `tests/`: hygiene tests of the goverse macros.
