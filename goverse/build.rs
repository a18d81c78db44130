//! Compiles the node-to-node protocol with `protox` (pure Rust, no system `protoc`) when the
//! `etcd` feature (the cluster) is on.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    #[cfg(feature = "etcd")]
    {
        let descriptors = protox::compile(["goverse/v1/node.proto"], ["proto"])?;
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .compile_fds(descriptors)?;
    }
    Ok(())
}
