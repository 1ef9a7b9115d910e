//! `lodiwelfare`: every LodiWelfare service in one process on embedded storage.
//!
//! - [`config`]: one configuration for the three services, with a data directory;
//! - [`demo`]: the demo Ambito, loaded through the services' public calls;
//! - [`startup`]: the composition root — the catalogue, the wallet and the booking service on
//!   SQLite files, the booking service calling the others in process.
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod startup;
