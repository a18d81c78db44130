//! Compiles the baseline echo service with `protox` (no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["echo.proto"], ["proto"])?;
    // The payload is `Bytes`, as in goverse's own node protocol and the benchmark object.
    tonic_prost_build::configure()
        .bytes(".bench.v1.EchoMessage.payload")
        .compile_fds(descriptors)?;
    Ok(())
}
