//! The wallet service: company plans, employee wallets and a double-entry ledger with holds.
//!
//! Not yet built: see the open issues. The crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
