//! The bare tonic baseline shared by the gate and cluster scenarios: a unary echo of
//! `bench.v1.EchoMessage` on a loopback port, and a client to it.

use std::net::SocketAddr;

use tonic::transport::Channel;
use tonic::{Request, Response, Status};

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod echo {
    tonic::include_proto!("bench.v1");
}

pub(crate) use echo::EchoMessage;
pub(crate) use echo::echo_client::EchoClient;
use echo::echo_server::{Echo, EchoServer};

#[derive(Debug, Default)]
struct BareEcho;

#[tonic::async_trait]
impl Echo for BareEcho {
    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

/// A connected channel to the gRPC server at `address` (no Nagle delay, as every server here).
pub(crate) async fn channel_to(address: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connects")
}

/// Starts the bare echo server and returns a client connected to it.
pub(crate) async fn start() -> EchoClient<Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServer::new(BareEcho))
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            ),
    );
    EchoClient::new(channel_to(address).await)
}
