//! The wallet service: company plans, employee wallets, and a double-entry ledger with holds
//! that never loses a cent.
//!
//! Built so far: the [`ledger`] on PostgreSQL and SQLite. The gRPC `WalletService` on top of it
//! (plans, funding batches, statements, reports) is the next step of its issue.
#![forbid(unsafe_code)]

pub mod ledger;
