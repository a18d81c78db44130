//! The HTTP accept loop, with the limits that keep a slow or silent client from holding a
//! connection forever.
//!
//! `axum::serve` sets no timer on hyper, so hyper's header-read timeout never fires and idle
//! keep-alive connections stay open forever. This loop drives hyper-util's HTTP/1 + HTTP/2
//! connection builder itself:
//!
//! - **header-read timeout** (HTTP/1, hyper's own, with a tokio timer): a request head must
//!   arrive completely within [`Timeouts::header_read`] (10 s, as GoVerse's `ReadHeaderTimeout`),
//!   so a slow-loris client trickling header bytes is disconnected;
//! - **idle timeout** ([`IdleIo`], both protocols): a connection on which no byte moved in either
//!   direction for [`Timeouts::idle`] (120 s, as GoVerse's `IdleTimeout`, and at least three
//!   heartbeats so a quiet SSE stream survives) is closed; it also cuts a client that stops
//!   reading its responses;
//! - **HTTP/2 keep-alive pings** every 30 s, answered within 20 s.
//!
//! Request bodies are bounded where they are read, in size by `max_body_bytes` and in time by
//! `body_read_timeout` (408; the idle timeout alone restarts with every trickled byte), and a
//! call's duration by the node's call timeout, so none needs a timer here. Aborting the serving
//! task drops every connection task with it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// How long an HTTP/1 request head may take to arrive.
    pub(super) header_read: Duration,
    /// How long a connection may stay without any byte read or written.
    pub(super) idle: Duration,
}

impl Timeouts {
    /// The defaults, with an idle timeout of at least three SSE heartbeats.
    pub(super) fn for_heartbeat(heartbeat: Duration) -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(120).max(heartbeat.saturating_mul(3)),
        }
    }
}

/// Accepts connections on `listener` and serves `app` on each until the task is aborted.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let app = app.clone();
                    match tls.clone() {
                        None => {
                            connections.spawn(serve_connection(stream, remote, app, timeouts));
                        }
                        Some(acceptor) => {
                            connections.spawn(async move {
                                // The handshake counts against the header-read timeout.
                                let handshake = tokio::time::timeout(
                                    timeouts.header_read,
                                    acceptor.accept(stream),
                                );
                                match handshake.await {
                                    Ok(Ok(stream)) => {
                                        serve_connection(stream, remote, app, timeouts).await;
                                    }
                                    Ok(Err(e)) => {
                                        tracing::debug!("TLS handshake from {remote} failed: {e}");
                                    }
                                    Err(_) => {
                                        tracing::debug!("TLS handshake from {remote} timed out");
                                    }
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("HTTP gate cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<S>(stream: S, remote: SocketAddr, app: Router, timeouts: Timeouts)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let mut app = app.clone();
        async move {
            let request: http::Request<hyper::body::Incoming> = request;
            tower::Service::call(&mut app, request).await
        }
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let io = TokioIo::new(IdleIo::new(stream, timeouts.idle));
    if let Err(e) = builder.serve_connection_with_upgrades(io, service).await {
        tracing::debug!("HTTP gate connection from {remote} ended: {e}");
    }
}

/// A connection that fails with `TimedOut` once no byte moved in either direction for `idle`.
pub(super) struct IdleIo<T> {
    inner: T,
    idle: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleIo<T> {
    pub(super) fn new(inner: T, idle: Duration) -> Self {
        let now = Instant::now();
        IdleIo {
            inner,
            idle,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
        }
    }

    /// Pending while the connection is not idle for long enough; an error once it is.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_activity + self.idle;
            if deadline <= Instant::now() {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connection idle for {:?}", self.idle),
                ));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn server(timeouts: Timeouts) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        (address, tokio::spawn(serve(listener, app, timeouts, None)))
    }

    /// Reads until the server closes the connection; what it sent.
    async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
        let mut received = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
            .await
            .expect("the server closed the connection");
        String::from_utf8_lossy(&received).into_owned()
    }

    #[tokio::test]
    async fn a_slow_request_head_is_cut() {
        let (address, task) = server(Timeouts {
            header_read: Duration::from_millis(300),
            idle: Duration::from_secs(60),
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut stream).await;
        assert!(!answer.contains("200 OK"), "{answer}");
        task.abort();
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_and_a_busy_one_served() {
        let (address, task) = server(Timeouts {
            header_read: Duration::from_secs(60),
            idle: Duration::from_millis(300),
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // Keep-alive: the connection stays open after the answer, until it is idle too long.
        let answer = read_to_close(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
        task.abort();
    }
}
