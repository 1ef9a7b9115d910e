//! What every LodiWelfare service runs on: configuration, telemetry, authentication, errors, limits, health, reflection and graceful shutdown.
//!
//! Not yet built: see the open issues. The crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
