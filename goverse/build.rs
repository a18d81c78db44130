//! Compiles the node-to-node protocol with `protox` (pure Rust, no system `protoc`) when the
//! `etcd` feature (the cluster) is on, and GoVerse's `gate.GateService` when the
//! `gate` feature is on (client and server: the Rust client speaks it too).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    #[cfg(feature = "etcd")]
    {
        let descriptors = protox::compile(["goverse/v1/node.proto"], ["proto"])?;
        tonic_prost_build::configure()
            // Payload bytes are shared with the call, not copied, on both sides.
            .bytes(".goverse.v1.Payload.data")
            .build_client(true)
            .build_server(true)
            .compile_fds(descriptors)?;
    }
    #[cfg(feature = "gate")]
    {
        // protox resolves `google/protobuf/any.proto` from its bundled well-known types, and
        // prost-build maps `.google.protobuf` to `::prost_types` by default (an explicit
        // `extern_path` for it is refused as a duplicate), so `Any` is `prost_types::Any`.
        let descriptors = protox::compile(["gate/gate.proto"], ["proto"])?;
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .compile_fds(descriptors)?;
    }
    Ok(())
}
