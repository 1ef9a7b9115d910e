//! The SQL plumbing every LodiWelfare service shares, so that no service writes it again.
//!
//! | module | what it does |
//! |---|---|
//! | [`url`] | which backend a database URL names; the file an `sqlite:` URL names |
//! | [`connect`] | one pool per backend with one set of settings, and the service's migrations |
//! | [`errors`] | what a database error means to a service (a unique key taken) |
//! | [`lease`] | a role one process plays at a time, let go when it dies (advisory lock, file lock) |
//! | `testing` (feature) | fresh databases for the suites, and [`on_every_backend!`] |
//!
//! PostgreSQL serves the distributed mode, SQLite the embedded one, both through sqlx's `Any`
//! driver; each service owns its migrations per backend and hands them to [`connect::connect`].
//! `welfare-core` and `welfare-runtime` stay free of sqlx: only services and this crate use it.
#![forbid(unsafe_code)]

pub mod connect;
pub mod errors;
pub mod lease;
#[cfg(feature = "testing")]
pub mod testing;
pub mod url;

pub use connect::{Settings, SqliteWriters, connect};
pub use url::{Backend, UnsupportedUrl};
