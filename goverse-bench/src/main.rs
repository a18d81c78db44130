//! The benchmark command: each scenario runs against a bare baseline in the same process, and
//! the table shows both and their ratio.
//!
//! Run with `cargo run --release -p goverse-bench` (add `-- --quick` for a short smoke run,
//! `-- --local` for the scenarios that need no service, the gate's among them, `-- --only
//! <group>` for one group of `local`, `gate`, `cluster`, `persistence`). The cluster
//! scenarios start their own etcd (Debian's `etcd-server` must be installed; `./scripts/test`
//! installs it), the persistence scenarios their own PostgreSQL server (`initdb` must be
//! installed).

mod alloc_counter;
mod cluster;
mod gate;
mod local;
mod persistence;
mod tonic_echo;

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
    /// Sequential persisted calls (and baseline upserts) timed for the latency row.
    persisted_latency_calls: usize,
    /// Persisted calls (and baseline upserts) per caller in the throughput row.
    persisted_calls_per_caller: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("node") {
        // A cluster member for the failover scenario, started by this same program.
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        if let Err(error) = runtime.block_on(goverse_tests::node_process::run(&args[1..])) {
            eprintln!("node failed: {error}");
            std::process::exit(1);
        }
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let local_only = args.iter().any(|arg| arg == "--local");
    let only = match args.iter().position(|arg| arg == "--only") {
        Some(at) => match args.get(at + 1).map(String::as_str) {
            Some(group @ ("local" | "gate" | "cluster" | "persistence")) => Some(group),
            other => {
                eprintln!(
                    "--only takes one of local, gate, cluster, persistence (got {})",
                    other.unwrap_or("nothing")
                );
                std::process::exit(2);
            }
        },
        None => None,
    };
    let runs = |group: &str| match only {
        Some(only) => only == group,
        None => !local_only || matches!(group, "local" | "gate"),
    };
    let scale = if quick {
        Scale {
            latency_calls: 5_000,
            throughput_calls: 50_000,
            objects: 10_000,
            persisted_latency_calls: 200,
            persisted_calls_per_caller: 25,
        }
    } else {
        Scale {
            latency_calls: 200_000,
            throughput_calls: 1_000_000,
            objects: 100_000,
            persisted_latency_calls: 2_000,
            persisted_calls_per_caller: 500,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut rows = Vec::new();
    if runs("local") {
        rows.extend(runtime.block_on(local::run(scale)));
    }
    if runs("gate") {
        rows.extend(runtime.block_on(gate::run(scale)));
    }
    if runs("cluster") {
        rows.extend(runtime.block_on(cluster::run(scale)));
    }
    if runs("persistence") {
        rows.extend(runtime.block_on(persistence::run(scale)));
    }
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
