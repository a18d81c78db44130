//! Runnable examples of goverse; run one with `cargo run --example <name>`.
