//! The LodiWelfare binary: all services in one process on embedded storage, plus operator commands.
//!
//! Not yet built: see the open issues. The crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
