//! Compiles the contract with protox (pure Rust: no system `protoc`) and generates the
//! messages, clients and servers with tonic-prost-build.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "welfare/common/v1/common.proto",
    "welfare/catalog/v1/catalog.proto",
    "welfare/booking/v1/booking.proto",
    "welfare/wallet/v1/wallet.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, [&root])?;
    std::fs::write(
        out.join("welfare_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
