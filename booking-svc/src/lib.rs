//! The booking service: availability, bookings and the crash-safe booking saga with wallet
//! holds — never oversold, never a cent or a seat lost.
//!
//! - [`store`]: slots, bookings with the wallet step they owe, request ids and the outbox, on
//!   PostgreSQL and SQLite;
//! - [`upstream`]: the catalogue and the wallet behind ports, over gRPC;
//! - [`saga`]: CreateBooking as a saga, the life cycle, recovery and the sweeps;
//! - [`grpc`]: `welfare.booking.v1.BookingService` over them;
//! - [`metrics`]: bookings by category and outcome, eligibility refusals by rule;
//! - [`startup`]: the composition root — store, upstreams, sweeper and routes from a
//!   configuration.
#![forbid(unsafe_code)]

pub mod config;
pub mod grpc;
pub mod metrics;
pub mod saga;
pub mod startup;
pub mod store;
pub mod upstream;
