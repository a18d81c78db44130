//! Test support for the integration tests: throwaway etcd and PostgreSQL servers and child
//! processes.
//!
//! [`Postgres`] runs a PostgreSQL server on a free loopback port with a fresh cluster in a
//! temporary directory (as the `postgres` OS user when the tests run as root), for one test; it
//! can be stopped and restarted on the same port and data. [`Etcd`] runs a single-member etcd cluster on free loopback ports with its data in a temporary
//! directory, for one test; it can be stopped, restarted on the same ports and data, and paused
//! to simulate an unresponsive server. [`Process`] runs a program with its output captured into a
//! log file, so that multi-process tests can wait for a line of output, kill or terminate the
//! program, and print the log when they fail. Both kill their process when dropped.
//!
//! Every wait here polls a condition at a short interval up to a limit, then panics with the log
//! of the process involved.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::{Pid, User};
use tempfile::TempDir;

/// How long [`Etcd::start`] and [`Etcd::restart`] wait for the server to become healthy.
const HEALTHY_LIMIT: Duration = Duration::from_secs(15);
/// How often the health endpoint is polled while waiting.
const HEALTH_POLL: Duration = Duration::from_millis(20);
/// How long one health probe may take while waiting for the server to become healthy.
const PROBE_LIMIT: Duration = Duration::from_millis(500);
/// How many times [`Etcd::start`] tries fresh ports when etcd exits before becoming healthy
/// (another process may have taken a port between picking it and etcd binding it).
const START_ATTEMPTS: usize = 3;
/// How often [`Process`] polls its log file and exit status.
const PROCESS_POLL: Duration = Duration::from_millis(10);

/// A free TCP port on 127.0.0.1: bound with port 0, read back, and released.
///
/// No two calls in one test process return the same port (nor ports picked for [`Etcd`]), so
/// parallel tests do not collide; another process may still take the port before the caller
/// binds it, so callers that spawn servers on it should be ready to retry.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free ports on 127.0.0.1, never handed out before in this process.
fn free_ports<const N: usize>() -> [u16; N] {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = lock(&HANDED_OUT);
    // Hold every listener until all are picked, so that the kernel gives distinct ports.
    let mut listeners = Vec::with_capacity(N);
    for _ in 0..1000 {
        if listeners.len() == N {
            break;
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("local address of a bound listener")
            .port();
        if handed_out.insert(port) {
            listeners.push((listener, port));
        }
    }
    assert_eq!(listeners.len(), N, "no free ports left on 127.0.0.1");
    std::array::from_fn(|i| listeners[i].1)
}

/// Whether process `pid` has a socket listening on TCP port `port` (IPv4), according to
/// `/proc`; `true` where `/proc` cannot tell.
///
/// A server that could not bind its port (taken by another process meanwhile) must not be
/// mistaken for the other process answering on it.
fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return true;
    };
    let port = format!(":{port:04X}");
    // Fields: sl, local address, remote address, state (0A is LISTEN), ..., inode (10th).
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.len() > 9 && fields[1].ends_with(&port) && fields[3] == "0A")
        .map(|fields| format!("socket:[{}]", fields[9]))
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return true;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == inode.as_str())
        })
    })
}

/// Locks `mutex`, ignoring poisoning: the child handle stays valid after a panic elsewhere.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a log file, lossily, or describes why it cannot be read.
fn read_log(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Opens `path` for appending (creating it), and returns two handles for stdout and stderr.
fn log_outputs(path: &Path) -> (Stdio, Stdio) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open log file {}: {e}", path.display()));
    let copy = file.try_clone().expect("duplicate log file handle");
    (Stdio::from(file), Stdio::from(copy))
}

/// Sends `sig` to `child` unless it has already exited (and may have been reaped, freeing its
/// pid for reuse). Returns whether the signal was sent.
fn send_signal(child: &mut Child, sig: Signal) -> bool {
    if !matches!(child.try_wait(), Ok(None)) {
        return false;
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits in i32"));
    signal::kill(pid, sig).is_ok()
}

/// Whether every thread of process `pid` is stopped (by a signal or a tracer), according to
/// `/proc`; `true` where `/proc` cannot tell.
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|task| {
        // `PID (COMMAND) STATE ...`, where the command may itself contain spaces and parentheses.
        std::fs::read_to_string(task.path().join("stat")).map_or(true, |stat| {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            state.is_none_or(|state| state.starts_with(['T', 't']))
        })
    })
}

/// The descendants of process `pid` (children, their children, ...), according to `/proc`;
/// none where `/proc` cannot tell.
fn descendants(pid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    // (pid, parent pid) of every process, from `PID (COMMAND) STATE PPID ...`.
    let parents: Vec<(i32, i32)> = entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![i32::try_from(pid).expect("pid fits in i32")];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        next += 1;
    }
    found.split_off(1)
}

/// Kills `child` with SIGKILL and reaps it.
fn kill_and_reap(child: &mut Child) -> Option<ExitStatus> {
    // `Child::kill` sends SIGKILL, which also ends a stopped (paused) process.
    let _ = child.kill();
    child.wait().ok()
}

/// Whether the etcd at `addr` answers `GET /health` with `"health":"true"` within `limit`.
///
/// Speaks HTTP/1.0 by hand over a plain TCP stream: the server closes the connection after the
/// response, so the whole response is read to the end.
fn probe_health(addr: SocketAddr, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let request = format!("GET /health HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
    if remaining().is_zero()
        || stream.set_write_timeout(Some(remaining())).is_err()
        || stream.write_all(request.as_bytes()).is_err()
    {
        return false;
    }
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = remaining();
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    let response = String::from_utf8_lossy(&response);
    response
        .split_once("\r\n\r\n")
        .is_some_and(|(_, body)| body.contains(r#""health":"true""#))
}

/// Where and how one etcd server runs: fixed for its life, across restarts.
#[derive(Debug, Clone)]
struct EtcdConfig {
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log_file: PathBuf,
}

impl EtcdConfig {
    fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }

    /// Spawns etcd with this configuration, its output appended to the log file.
    fn spawn(&self) -> Child {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let (stdout, stderr) = log_outputs(&self.log_file);
        let mut command = Command::new("etcd");
        command
            .arg("--name")
            .arg("goverse-test")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("goverse-test={peer}")])
            // A single member has no one to wait for: short raft timings make it elect itself
            // quickly, which matters most on restart (about 1.5 s with the defaults, 0.2 s
            // with these), and lower the minimum lease TTL from 2 s to 1 s.
            .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
            .args(["--logger", "zap", "--log-level", "error"])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // etcd also reads its flags from ETCD_* variables; keep the caller's out of the way.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(name);
            }
        }
        match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                panic!("etcd not found: run ./scripts/test, which installs etcd-server")
            }
            Err(e) => panic!("cannot spawn etcd: {e}"),
        }
    }

    /// Spawns etcd and waits until it is healthy. On failure returns the reason, with the child
    /// killed and reaped.
    fn launch(&self) -> Result<Child, String> {
        let mut child = self.spawn();
        let deadline = Instant::now() + HEALTHY_LIMIT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("etcd exited before becoming healthy ({status})"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                kill_and_reap(&mut child);
                return Err(format!(
                    "etcd was not healthy within {HEALTHY_LIMIT:?} at {}",
                    self.client_addr()
                ));
            }
            // Healthy, and from our etcd: if another process took the client port meanwhile,
            // ours fails to bind it and exits, and the other one must not be taken for it.
            if probe_health(self.client_addr(), left.min(PROBE_LIMIT))
                && listens_on(child.id(), self.client_port)
            {
                return Ok(child);
            }
            thread::sleep(HEALTH_POLL.min(left));
        }
    }
}

/// A throwaway single-member etcd server for one test.
///
/// It listens on free loopback ports and keeps its data in a temporary directory, both kept
/// across [`stop`](Etcd::stop) and [`restart`](Etcd::restart). Dropping it kills the server and
/// removes the directory.
#[derive(Debug)]
pub struct Etcd {
    config: EtcdConfig,
    child: Mutex<Option<Child>>,
    paused: bool,
    // Last, so that the directory is removed after the process is gone.
    dir: TempDir,
}

impl Etcd {
    /// Starts etcd on two free loopback ports and waits until it is healthy (at most 15 s).
    ///
    /// Blocks the thread, typically for about 0.1 s; inside async tests use
    /// [`start_async`](Etcd::start_async). Panics with etcd's log if it does not become healthy,
    /// and with a hint to run `./scripts/test` if `etcd` is not on the `PATH`.
    pub fn start() -> Etcd {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("goverse-etcd-")
                .tempdir()
                .expect("create a temporary directory for etcd");
            let [client_port, peer_port] = free_ports::<2>();
            let config = EtcdConfig {
                client_port,
                peer_port,
                data_dir: dir.path().join("data"),
                log_file: dir.path().join("etcd.log"),
            };
            match config.launch() {
                Ok(child) => {
                    return Etcd {
                        config,
                        child: Mutex::new(Some(child)),
                        paused: false,
                        dir,
                    };
                }
                // A port may have been taken meanwhile: try again with fresh ports and data.
                Err(reason) => failures.push(format!(
                    "{reason}\n--- etcd log ---\n{}",
                    read_log(&config.log_file)
                )),
            }
        }
        panic!(
            "etcd did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// [`start`](Etcd::start) on a blocking thread of the tokio runtime, for async tests.
    ///
    /// Panics like `start`, with the same message.
    pub async fn start_async() -> Etcd {
        tokio::task::spawn_blocking(Etcd::start)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// The client address, `127.0.0.1:PORT`, to give to an etcd client.
    pub fn endpoint(&self) -> String {
        self.config.client_addr().to_string()
    }

    /// The client URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint())
    }

    /// Kills the server with SIGKILL and waits for it to exit; the endpoint then refuses
    /// connections. Does nothing if it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = lock(&self.child).take() {
            kill_and_reap(&mut child);
        }
        self.paused = false;
    }

    /// Starts the server again on the same ports and data directory (so the data written before
    /// survives) and waits until it is healthy; stops it first if it is running.
    ///
    /// Blocks the thread, typically for about 0.2 s; inside async tests use
    /// [`restart_async`](Etcd::restart_async). Panics with etcd's log if it does not become
    /// healthy, for instance because another process took one of its ports meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let child = self
            .config
            .launch()
            .unwrap_or_else(|reason| self.fail(&format!("etcd did not restart: {reason}")));
        *lock(&self.child) = Some(child);
    }

    /// [`restart`](Etcd::restart) with the wait on a blocking thread of the tokio runtime.
    pub async fn restart_async(&mut self) {
        self.stop();
        let config = self.config.clone();
        let launched = tokio::task::spawn_blocking(move || config.launch())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match launched {
            Ok(child) => *lock(&self.child) = Some(child),
            Err(reason) => self.fail(&format!("etcd did not restart: {reason}")),
        }
    }

    /// Whether the server process is alive (it may be paused).
    pub fn is_running(&self) -> bool {
        lock(&self.child)
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Whether the server answers `GET /health` as healthy within `limit`.
    pub fn is_healthy(&self, limit: Duration) -> bool {
        probe_health(self.config.client_addr(), limit)
    }

    /// Freezes the server with SIGSTOP, and waits until all its threads have stopped:
    /// connections are then still accepted by the kernel but never answered, as with a hung
    /// server. Does nothing if it is stopped or already paused.
    pub fn pause(&mut self) {
        if self.paused {
            return;
        }
        let mut guard = lock(&self.child);
        let Some(child) = guard.as_mut() else {
            return;
        };
        self.paused = send_signal(child, Signal::SIGSTOP);
        // The signal stops the threads one by one, as they get to run: until the last one
        // stops, the others may still answer requests.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.paused && !all_threads_stopped(child.id()) {
            if !matches!(child.try_wait(), Ok(None)) {
                self.paused = false;
            } else if Instant::now() >= deadline {
                drop(guard);
                self.fail("etcd did not stop within 5 s of SIGSTOP");
            } else {
                thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Resumes a [`pause`](Etcd::pause)d server with SIGCONT. Does nothing if it is not paused.
    pub fn resume(&mut self) {
        if !self.paused {
            return;
        }
        if let Some(child) = lock(&self.child).as_mut() {
            send_signal(child, Signal::SIGCONT);
        }
        self.paused = false;
    }

    /// Everything etcd has written to its stdout and stderr so far (errors only, normally).
    pub fn log(&self) -> String {
        read_log(&self.config.log_file)
    }

    /// The temporary directory holding the data directory (`data/`) and the log (`etcd.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn fail(&self, reason: &str) -> ! {
        panic!("{reason}\n--- etcd log ---\n{}", self.log())
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long [`Postgres`] waits for the server to accept connections.
const PG_READY_LIMIT: Duration = Duration::from_secs(30);
/// How long [`Postgres`] waits for the server to exit after a shutdown signal.
const PG_STOP_LIMIT: Duration = Duration::from_secs(30);

/// The directory holding `initdb` and `postgres` (found through `initdb` on the `PATH`, in
/// `/usr/local/bin`, or in the newest `/usr/lib/postgresql/*/bin`), with symlinks resolved.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from("/usr/local/bin"));
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    dirs.extend(versioned.into_iter().map(|(_, dir)| dir));
    dirs.into_iter().find_map(|dir| {
        let initdb = std::fs::canonicalize(dir.join("initdb")).ok()?;
        let bin = initdb.parent()?.to_path_buf();
        bin.join("postgres").is_file().then_some(bin)
    })
}

/// A command for a PostgreSQL program, run as `owner` if given, with the caller's `PG*`
/// variables removed (they would override our flags) and `dir` as working directory.
fn postgres_command(program: &Path, owner: Option<(u32, u32)>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
    command
}

/// Where and how one PostgreSQL server runs: fixed for its life, across restarts (except the
/// port, which [`Postgres::start`] may change before the first successful start).
#[derive(Debug, Clone)]
struct PostgresConfig {
    bin_dir: PathBuf,
    /// The `postgres` OS user's uid and gid, when the tests run as root.
    owner: Option<(u32, u32)>,
    port: u16,
    dir: PathBuf,
    data_dir: PathBuf,
    log_file: PathBuf,
}

impl PostgresConfig {
    /// Spawns the server with this configuration, its output appended to the log file.
    fn spawn(&self) -> Child {
        let (stdout, stderr) = log_outputs(&self.log_file);
        postgres_command(&self.bin_dir.join("postgres"), self.owner, &self.dir)
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-p", &self.port.to_string()])
            // The unix socket beside the data, not in /var/run/postgresql.
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"])
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}/postgres: {e}", self.bin_dir.display()))
    }

    /// Whether the server `pid` says it is ready: `postmaster.pid` names it and has the status
    /// `ready` (what `pg_ctl -w` waits for), and it listens on our port.
    fn is_ready(&self, pid: u32) -> bool {
        let Ok(lock) = std::fs::read_to_string(self.data_dir.join("postmaster.pid")) else {
            return false;
        };
        let lines: Vec<&str> = lock.lines().collect();
        lines.first().is_some_and(|l| l.trim() == pid.to_string())
            && lines.get(7).is_some_and(|l| l.trim() == "ready")
            && listens_on(pid, self.port)
    }

    /// Spawns the server and waits until it accepts connections. On failure returns the
    /// reason, with the child killed and reaped.
    fn launch(&self) -> Result<Child, String> {
        let mut child = self.spawn();
        let deadline = Instant::now() + PG_READY_LIMIT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("postgres exited before becoming ready ({status})"));
            }
            if self.is_ready(child.id()) {
                return Ok(child);
            }
            if Instant::now() >= deadline {
                kill_and_reap(&mut child);
                return Err(format!(
                    "postgres was not ready within {PG_READY_LIMIT:?} on port {}",
                    self.port
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A throwaway PostgreSQL server for one test: a fresh cluster (`initdb`, trust
/// authentication, superuser `postgres`, `fsync=off`) in a temporary directory, listening on a
/// free loopback port, with its unix socket in that directory.
///
/// When the tests run as root, the cluster belongs to the `postgres` OS user and the server
/// runs as that user (PostgreSQL refuses to run as root). Port and data are kept across
/// [`stop`](Postgres::stop) and [`restart_async`](Postgres::restart_async). Dropping it stops
/// the server and removes the directory.
#[derive(Debug)]
pub struct Postgres {
    config: PostgresConfig,
    child: Mutex<Option<Child>>,
    // Last, so that the directory is removed after the process is gone.
    dir: TempDir,
}

impl Postgres {
    /// Creates a cluster and starts the server; typically about 1 s. Blocks the thread; inside
    /// async tests use [`start_async`](Postgres::start_async).
    ///
    /// Panics with a hint to run `./scripts/test` (which installs PostgreSQL) if `initdb` cannot
    /// be found, and with the server's log if it does not start.
    pub fn start() -> Postgres {
        let bin_dir = postgres_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's initdb and postgres not found (PATH, /usr/local/bin, \
                 /usr/lib/postgresql/*/bin): run ./scripts/test, which installs postgresql"
            )
        });
        let owner = nix::unistd::geteuid().is_root().then(|| {
            let user = User::from_name("postgres")
                .ok()
                .flatten()
                .unwrap_or_else(|| {
                    panic!(
                        "running as root, the test PostgreSQL server needs the `postgres` OS \
                         user: install postgresql (./scripts/test does)"
                    )
                });
            (user.uid.as_raw(), user.gid.as_raw())
        });
        let dir = tempfile::Builder::new()
            .prefix("goverse-postgres-")
            .tempdir()
            .expect("create a temporary directory for PostgreSQL");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("give the PostgreSQL directory to the postgres user");
        }
        let mut config = PostgresConfig {
            bin_dir,
            owner,
            port: free_port(),
            dir: dir.path().to_path_buf(),
            data_dir: dir.path().join("data"),
            log_file: dir.path().join("postgres.log"),
        };
        let initdb = postgres_command(&config.bin_dir.join("initdb"), owner, dir.path())
            .arg("-D")
            .arg(&config.data_dir)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}/initdb: {e}", config.bin_dir.display()));
        assert!(
            initdb.status.success(),
            "initdb failed ({}):\n{}{}",
            initdb.status,
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match config.launch() {
                Ok(child) => {
                    return Postgres {
                        config,
                        child: Mutex::new(Some(child)),
                        dir,
                    };
                }
                // Most likely another process took the port meanwhile: try another.
                Err(reason) => {
                    failures.push(format!("port {}: {reason}", config.port));
                    config.port = free_port();
                }
            }
        }
        panic!(
            "PostgreSQL did not start:\n{}\n--- postgres log ---\n{}",
            failures.join("\n"),
            read_log(&config.log_file)
        )
    }

    /// [`start`](Postgres::start) on a blocking thread of the tokio runtime.
    pub async fn start_async() -> Postgres {
        tokio::task::spawn_blocking(Postgres::start)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.config.port
    }

    /// The URL of the `postgres` database as the superuser `postgres` (no password).
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// The URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.config.port)
    }

    /// Creates the empty database `name` and returns its URL, so that tests can share a
    /// server without sharing data. Panics if it cannot be created.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.database_url(name)
    }

    /// Runs `sql` with `psql` in database `database` and returns its unaligned, tuples-only
    /// output (one row a line, columns separated by `|`); panics with psql's error if it fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let psql = self.config.bin_dir.join("psql");
        let program = if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        };
        let output = postgres_command(&program, None, self.dir.path())
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.config.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "psql {sql:?} failed ({}): {}\n--- postgres log ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        String::from_utf8(output.stdout).expect("psql output is UTF-8")
    }

    /// Stops the server with a fast shutdown (clients are disconnected, the data is kept) and
    /// waits for it to exit; the port then refuses connections. Does nothing if it is stopped.
    pub fn stop(&mut self) {
        self.shut_down(Signal::SIGINT);
    }

    /// Starts the server again on the same port and data (so the data written before survives)
    /// and waits until it accepts connections; stops it first if it is running. Panics with the
    /// server's log if it does not start, for instance because another process took the port.
    pub async fn restart_async(&mut self) {
        self.stop();
        let config = self.config.clone();
        let launched = tokio::task::spawn_blocking(move || config.launch())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match launched {
            Ok(child) => *lock(&self.child) = Some(child),
            Err(reason) => panic!(
                "PostgreSQL did not restart: {reason}\n--- postgres log ---\n{}",
                self.log()
            ),
        }
    }

    /// Whether the server process is alive.
    pub fn is_running(&self) -> bool {
        lock(&self.child)
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Everything the server has written to its stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(&self.config.log_file)
    }

    /// The temporary directory holding the cluster (`data/`), the socket and the log
    /// (`postgres.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `sig` (SIGINT: fast shutdown; SIGQUIT: immediate) and waits for the server to
    /// exit; kills it if it has not within 30 s.
    fn shut_down(&mut self, sig: Signal) {
        let Some(mut child) = lock(&self.child).take() else {
            return;
        };
        send_signal(&mut child, sig);
        let deadline = Instant::now() + PG_STOP_LIMIT;
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() >= deadline {
                kill_and_reap(&mut child);
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Immediate shutdown: the data is about to be removed anyway.
        self.shut_down(Signal::SIGQUIT);
    }
}

/// A child process for multi-process tests, its stdout and stderr captured into a log file.
///
/// [`kill_hard`](Process::kill_hard), which also runs on drop, kills the processes the child
/// started too (those still its descendants, such as the commands of a shell script);
/// [`terminate`](Process::terminate) signals the child only.
#[derive(Debug)]
pub struct Process {
    child: Mutex<Child>,
    pid: u32,
    program: PathBuf,
    log_file: PathBuf,
    // Last, so that the directory is removed after the process is gone.
    _dir: TempDir,
}

impl Process {
    /// Spawns `program` with `args`, and `env` added to the inherited environment; stdin is
    /// empty and stdout and stderr both go to a log file in a temporary directory.
    ///
    /// Panics if the program cannot be spawned.
    pub fn spawn(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        let dir = tempfile::Builder::new()
            .prefix("goverse-process-")
            .tempdir()
            .expect("create a temporary directory for a process log");
        let log_file = dir.path().join("output.log");
        let (stdout, stderr) = log_outputs(&log_file);
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));
        Process {
            pid: child.id(),
            child: Mutex::new(child),
            program: program.to_path_buf(),
            log_file,
            _dir: dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything the process has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(&self.log_file)
    }

    /// Waits until the log has a complete line containing `needle` and returns that line
    /// (without its newline), checking every 10 ms; panics with the whole log if none appears
    /// within `limit`, or if the process exits without writing one.
    ///
    /// Blocks the thread; inside async tests use
    /// [`wait_for_line_async`](Process::wait_for_line_async).
    pub fn wait_for_line(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.find_line(needle, deadline, limit) {
                return line;
            }
            thread::sleep(PROCESS_POLL);
        }
    }

    /// [`wait_for_line`](Process::wait_for_line) for async tests: waits on the tokio timer.
    pub async fn wait_for_line_async(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.find_line(needle, deadline, limit) {
                return line;
            }
            tokio::time::sleep(PROCESS_POLL).await;
        }
    }

    /// The first complete line of the log containing `needle`, if any; panics with the log
    /// if the process has exited or `deadline` has passed.
    fn find_line(&self, needle: &str, deadline: Instant, limit: Duration) -> Option<String> {
        // Check for an exit before reading, so that a line written just before exiting is
        // still found.
        let exited = lock(&self.child).try_wait().ok().flatten();
        let log = self.log();
        // Only complete lines: a line being written may be cut short.
        let complete = log.rsplit_once('\n').map_or("", |(lines, _)| lines);
        if let Some(line) = complete.lines().find(|line| line.contains(needle)) {
            return Some(line.to_string());
        }
        let program = self.program.display();
        let pid = self.pid;
        if let Some(status) = exited {
            panic!(
                "{program} (pid {pid}) exited ({status}) without writing a line containing \
                 {needle:?}\n--- log ---\n{log}"
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "{program} (pid {pid}) wrote no line containing {needle:?} within {limit:?}\n\
                 --- log ---\n{log}"
            );
        }
        None
    }

    /// Kills the process and the processes it started (still its descendants) with SIGKILL, and
    /// waits for it to exit. Does nothing if it has exited.
    pub fn kill_hard(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        // Freeze it first, so that it starts no more processes while they are looked up.
        if send_signal(child, Signal::SIGSTOP) {
            for pid in descendants(child.id()) {
                let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        kill_and_reap(child);
    }

    /// Asks the process to exit with SIGTERM, without waiting; see
    /// [`wait_exit`](Process::wait_exit). Does nothing if it has exited.
    pub fn terminate(&mut self) {
        send_signal(
            self.child.get_mut().unwrap_or_else(|e| e.into_inner()),
            Signal::SIGTERM,
        );
    }

    /// Waits up to `limit` for the process to exit, checking every 10 ms; returns its exit
    /// status, or `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + limit;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(PROCESS_POLL),
                _ => return None,
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `etcdctl --endpoints ETCD ARGS` and returns its stdout; panics if it fails.
    fn etcdctl(etcd: &Etcd, args: &[&str]) -> String {
        let output = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &etcd.endpoint(), "--command-timeout=5s"])
            .args(args)
            .output()
            .expect("run etcdctl");
        assert!(
            output.status.success(),
            "etcdctl {args:?} failed ({}): {}\n--- etcd log ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            etcd.log(),
        );
        String::from_utf8(output.stdout).expect("etcdctl output is UTF-8")
    }

    /// Whether a TCP connection to `endpoint` is accepted.
    fn accepts(endpoint: &str) -> bool {
        let addr: SocketAddr = endpoint.parse().expect("endpoint is an address");
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    }

    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let mut seen = BTreeSet::new();
        for _ in 0..50 {
            let [a, b] = free_ports::<2>();
            assert!(
                seen.insert(a) && seen.insert(b),
                "{a} or {b} handed out twice"
            );
            assert!(seen.insert(free_port()));
        }
    }

    #[test]
    fn listens_on_tells_whose_port_it_is() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        assert!(listens_on(std::process::id(), port));
        let etcd = Etcd::start();
        let pid = lock(&etcd.child).as_ref().expect("running").id();
        assert!(listens_on(pid, etcd.config.client_port));
        assert!(!listens_on(pid, port), "etcd does not listen on our port");
        drop(listener);
        assert!(!listens_on(std::process::id(), port));
    }

    #[test]
    fn etcd_starts_healthy_and_stores_keys() {
        let began = Instant::now();
        let etcd = Etcd::start();
        let took = began.elapsed();
        eprintln!("etcd healthy after {took:?}");
        assert!(took < Duration::from_secs(5), "etcd took {took:?} to start");
        assert!(etcd.is_running());
        assert!(etcd.is_healthy(Duration::from_secs(1)));
        etcdctl(&etcd, &["put", "greeting", "hello"]);
        assert_eq!(
            etcdctl(&etcd, &["get", "greeting", "--print-value-only"]).trim(),
            "hello"
        );
    }

    #[test]
    fn stop_refuses_connections_and_restart_keeps_data() {
        let mut etcd = Etcd::start();
        let endpoint = etcd.endpoint();
        etcdctl(&etcd, &["put", "kept", "across restarts"]);

        etcd.stop();
        assert!(!etcd.is_running());
        assert!(
            !accepts(&endpoint),
            "stopped etcd still accepts connections"
        );
        etcd.stop(); // idempotent

        let began = Instant::now();
        etcd.restart();
        eprintln!("etcd healthy again after {:?}", began.elapsed());
        assert_eq!(etcd.endpoint(), endpoint);
        assert!(etcd.is_running());
        assert_eq!(
            etcdctl(&etcd, &["get", "kept", "--print-value-only"]).trim(),
            "across restarts"
        );
    }

    #[test]
    fn pause_makes_etcd_unresponsive_until_resumed() {
        let mut etcd = Etcd::start();
        etcd.pause();
        assert!(etcd.is_running(), "a paused etcd is still alive");
        assert!(
            !etcd.is_healthy(Duration::from_secs(1)),
            "paused etcd answered /health"
        );
        etcd.resume();
        assert!(
            etcd.is_healthy(Duration::from_secs(5)),
            "resumed etcd is not healthy"
        );
        etcdctl(&etcd, &["put", "after", "resume"]);
    }

    #[test]
    fn drop_kills_etcd_and_removes_its_directory() {
        let etcd = Etcd::start();
        let endpoint = etcd.endpoint();
        let dir = etcd.dir().to_path_buf();
        assert!(dir.join("data").is_dir());
        drop(etcd);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(
            !accepts(&endpoint),
            "dropped etcd still accepts connections"
        );
    }

    #[tokio::test]
    async fn etcd_starts_and_restarts_in_async_tests() {
        let mut etcd = Etcd::start_async().await;
        etcd.stop();
        etcd.restart_async().await;
        assert!(etcd.is_healthy(Duration::from_secs(1)));
    }

    #[test]
    fn process_output_is_awaited_and_kill_hard_ends_it() {
        let mut process = Process::spawn(
            Path::new("/bin/sh"),
            &["-c", "echo starting; echo \"ready on $PORT\"; sleep 30"],
            &[("PORT", "4242")],
        );
        assert!(process.pid() > 0);
        let line = process.wait_for_line("ready", Duration::from_secs(5));
        assert_eq!(line, "ready on 4242");
        assert!(process.log().starts_with("starting\n"));

        let began = Instant::now();
        process.kill_hard();
        let status = process.wait_exit(Duration::from_secs(1));
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        assert!(began.elapsed() < Duration::from_secs(1));
        process.kill_hard(); // idempotent
    }

    #[test]
    fn kill_hard_kills_what_the_process_started() {
        let mut process = Process::spawn(
            Path::new("/bin/sh"),
            &["-c", "sleep 30 & sleep 30 & echo ready; wait"],
            &[],
        );
        process.wait_for_line("ready", Duration::from_secs(5));
        let started = descendants(process.pid());
        assert_eq!(started.len(), 2, "{started:?}");
        process.kill_hard();
        // Gone, or a zombie waiting for init to reap it.
        let dead = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
                stat.rsplit_once(')')
                    .unwrap()
                    .1
                    .trim_start()
                    .starts_with('Z')
            })
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while !started.iter().all(|&pid| dead(pid)) {
            assert!(Instant::now() < deadline, "{started:?} outlived kill_hard");
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[tokio::test]
    async fn wait_for_line_async_awaits_output() {
        let process = Process::spawn(
            Path::new("/bin/sh"),
            &["-c", "sleep 0.2; echo listening on 1234; exec sleep 30"],
            &[],
        );
        let line = process
            .wait_for_line_async("listening", Duration::from_secs(5))
            .await;
        assert_eq!(line, "listening on 1234");
    }

    #[test]
    fn terminate_ends_a_process() {
        let mut process = Process::spawn(Path::new("sleep"), &["30"], &[]);
        assert_eq!(process.wait_exit(Duration::from_millis(50)), None);
        process.terminate();
        let status = process.wait_exit(Duration::from_secs(5));
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        process.terminate(); // exited: does nothing
    }

    #[test]
    #[should_panic(expected = "exited")]
    fn wait_for_line_fails_fast_when_the_process_exits() {
        let process = Process::spawn(Path::new("/bin/sh"), &["-c", "echo other"], &[]);
        process.wait_for_line("never", Duration::from_secs(30));
    }
}
