//! The booking service: availability, bookings and the booking saga.
//!
//! Not yet built: see the open issues. The crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
