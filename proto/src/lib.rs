//! The gRPC contract of LodiWelfare (welfare.{common,catalog,booking,wallet}.v1) and its conversions to welfare-core types.
//!
//! Not yet built: see the open issues. The crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
