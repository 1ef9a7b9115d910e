//! The catalogue service: providers and their listings, vetted by the Ufficio di Piano, with
//! eligibility checks, quotes and the open-data export.
//!
//! - [`store`]: the storage port and its SQL adapter (PostgreSQL, SQLite), with the outbox;
//! - [`grpc`]: `welfare.catalog.v1.CatalogService` over a store;
//! - [`hsds`]: the published catalogue as Open Referral HSDS 3.0 JSON, and another
//!   directory's read back for curation;
//! - [`search`]: the search port, the embedded (tantivy) index and the indexer;
//! - [`local_words`]: the curators' local words in force, shared by searches and the indexer;
//! - [`metrics`]: search latency, outbox lag and indexing failures;
//! - [`retention`]: request ids and outbox rows forgotten once nobody needs them;
//! - [`startup`]: the composition root — store, index, indexer and routes from a configuration.
#![forbid(unsafe_code)]

pub mod config;
pub mod grpc;
pub mod hsds;
pub mod local_words;
pub mod metrics;
pub mod retention;
pub mod search;
pub mod startup;
pub mod store;
