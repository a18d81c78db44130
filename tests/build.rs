//! Generates a gRPC client for GoVerse's `gate.GateService` from goverse's own
//! `proto/gate/gate.proto`, as any outside client would (the tests reach the gate only over the
//! wire).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../goverse/proto/gate");
    let descriptors = protox::compile(["gate/gate.proto"], ["../goverse/proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
