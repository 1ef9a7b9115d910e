//! The wallet service: company plans, employee wallets, and a double-entry ledger with holds
//! that never loses a cent.
//!
//! - [`ledger`]: the double-entry ledger on PostgreSQL and SQLite;
//! - [`plans`]: company plans, funding batches, statements, year-end settlement, reports;
//! - [`grpc`]: `welfare.wallet.v1.WalletService` over them;
//! - [`metrics`]: holds by event, credit spent by TUIR letter;
//! - [`startup`]: the composition root — ledger, sweeper and routes from a configuration.
#![forbid(unsafe_code)]

pub mod config;
pub mod grpc;
pub mod ledger;
pub mod metrics;
pub mod plans;
pub mod startup;
