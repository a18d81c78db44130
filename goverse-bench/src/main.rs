//! The benchmark command: each scenario runs against a bare baseline in the same process, and
//! the table shows both and their ratio.
//!
//! Run with `cargo run --release -p goverse-bench` (add `-- --quick` for a short smoke run).

mod alloc_counter;
mod local;

use std::fmt::Write as _;

/// One row of the result table.
struct Row {
    scenario: &'static str,
    unit: &'static str,
    goverse: f64,
    baseline: Option<f64>,
    target: &'static str,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.baseline.map(|baseline| self.goverse / baseline)
    }
}

/// How much work each scenario does.
#[derive(Clone, Copy)]
struct Scale {
    latency_calls: usize,
    throughput_calls: usize,
    objects: usize,
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let scale = if quick {
        Scale {
            latency_calls: 5_000,
            throughput_calls: 50_000,
            objects: 10_000,
        }
    } else {
        Scale {
            latency_calls: 200_000,
            throughput_calls: 1_000_000,
            objects: 100_000,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rows = runtime.block_on(local::run(scale));
    println!("{}", table(&rows));
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {:<44} | {:>12} | {:>12} | {:>7} | {:<10} | {:<14} |",
        "scenario", "goverse", "baseline", "ratio", "unit", "target"
    );
    let _ = writeln!(
        out,
        "|{:-<46}|{:->14}|{:->14}|{:->9}|{:-<12}|{:-<16}|",
        "", "", "", "", "", ""
    );
    for row in rows {
        let baseline = row.baseline.map_or("-".to_string(), format_number);
        let ratio = row.ratio().map_or("-".to_string(), |r| format!("{r:.2}"));
        let _ = writeln!(
            out,
            "| {:<44} | {:>12} | {:>12} | {:>7} | {:<10} | {:<14} |",
            row.scenario,
            format_number(row.goverse),
            baseline,
            ratio,
            row.unit,
            row.target
        );
    }
    out
}

fn format_number(value: f64) -> String {
    if value >= 1000.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}
