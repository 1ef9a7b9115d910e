//! What the catalogue benchmarks share: settings from the environment, the clock, valid
//! partite IVA, a cheap generator and percentiles.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use catalog_svc::store::ProviderRecord;
use welfare_core::ids::ProviderId;
use welfare_core::provider::{ProviderKind, ProviderStatus, TaxId};
use welfare_core::time::Timestamp;

pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn now() -> Timestamp {
    Timestamp::from_unix_seconds(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs(),
        )
        .expect("fits"),
    )
}

/// A valid partita IVA for provider `n` (office code 098, Lodi).
pub fn vat(n: usize) -> String {
    let body = format!("{:07}098", n + 1);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// xorshift: cheap, deterministic per task.
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// An approved cooperative with id `id`, the `n`th partita IVA, created now.
pub fn approved_provider(id: &str, n: usize) -> ProviderRecord {
    ProviderRecord {
        id: ProviderId::parse(id).expect("id"),
        display_name: format!("Cooperativa {n}"),
        kind: ProviderKind::CooperativaSociale,
        tax_id: TaxId::parse(&vat(n)).expect("vat"),
        contact_email: String::new(),
        contact_phone: String::new(),
        website_url: String::new(),
        status: ProviderStatus::Approved,
        state_reason: String::new(),
        registered_by: "bench".to_owned(),
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}
