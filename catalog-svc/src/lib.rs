//! The catalogue service: providers, listings, curation, eligibility, quotes and search.
//!
//! Not yet built: see the open issues. The crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
