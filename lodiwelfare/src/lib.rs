//! The LodiWelfare binary: all services in one process on embedded storage, plus operator commands.
//!
//! Not yet built: see the open issues. What it will put together exists already: each
//! service's composition root (`catalog_svc::startup`, `wallet_svc::startup`) builds its routes
//! and background tasks from a configuration, and `welfare_runtime::ServiceSet::merge` serves
//! several behind one layer stack on one port (`tests/one_process.rs` does exactly that).
#![forbid(unsafe_code)]
