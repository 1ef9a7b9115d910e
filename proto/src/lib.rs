//! The gRPC contract of LodiWelfare, generated from `proto/welfare/**/*.proto` with protox and
//! tonic-prost-build, plus the conversions to and from `welfare-core` types used at the edge
//! of every service ([`convert`]).
//!
//! [`FILE_DESCRIPTOR_SET`] is the encoded descriptor set of the whole contract (imports
//! included), for server reflection.
#![forbid(unsafe_code)]

/// One generated package; its lints are the generator's business.
macro_rules! generated_package {
    ($name:ident, $package:literal) => {
        pub mod $name {
            #[allow(
                clippy::all,
                clippy::restriction,
                clippy::pedantic,
                unreachable_pub,
                missing_debug_implementations
            )]
            pub mod v1 {
                tonic::include_proto!($package);
            }
        }
    };
}

pub mod welfare {
    generated_package!(common, "welfare.common.v1");
    generated_package!(catalog, "welfare.catalog.v1");
    generated_package!(booking, "welfare.booking.v1");
    generated_package!(wallet, "welfare.wallet.v1");
}

pub use welfare::booking::v1 as booking;
pub use welfare::catalog::v1 as catalog;
pub use welfare::common::v1 as common;
pub use welfare::wallet::v1 as wallet;

/// The encoded `FileDescriptorSet` of the contract, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/welfare_descriptor.bin"));

pub mod convert;
