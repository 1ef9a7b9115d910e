//! The hold RPCs on a port of their own (`holds.listen_addr`): which methods each listener
//! answers.

use std::sync::Arc;

use super::SERVICE_NAME;

/// The hold RPCs: the booking service moves money with them (role `booking_service`), and the
/// wallet may serve them on a port of their own (`holds.listen_addr`).
pub const HOLD_METHODS: [&str; 4] = ["HoldFunds", "CaptureHold", "ReleaseHold", "ListHolds"];

/// Which methods a listener answers when the hold RPCs have a port of their own: the holds
/// port only those (`holds_port`), the main one all the others; each names the other's address
/// to a caller at the wrong one.
pub fn holds_gate(
    holds_port: bool,
    main_addr: &str,
    holds_addr: &str,
) -> welfare_runtime::gate::Gate {
    let methods: std::collections::HashSet<String> = HOLD_METHODS
        .iter()
        .map(|method| format!("/{SERVICE_NAME}/{method}"))
        .collect();
    let methods = Arc::new(methods);
    if holds_port {
        welfare_runtime::gate::Gate::Only {
            methods,
            elsewhere: format!("the wallet's main port ({main_addr})"),
        }
    } else {
        welfare_runtime::gate::Gate::AllBut {
            methods,
            elsewhere: format!("the wallet's holds port ({holds_addr})"),
        }
    }
}
