//! What the catalogue benchmarks share: settings from the environment, the clock, valid
//! partite IVA, a cheap generator and percentiles.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use std::sync::Arc;

use catalog_svc::grpc::CatalogApi;
use catalog_svc::search::SearchIndex;
use catalog_svc::store::{
    CatalogStore, Change, OutboxEvent, ProviderRecord, RecordedRequest, Topic,
};
use welfare_core::ids::ProviderId;
use welfare_core::provider::{ProviderKind, ProviderStatus, TaxId};
use welfare_core::territory::Territory;
use welfare_core::time::Timestamp;
use welfare_runtime::Application;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::{RuntimeConfig, Secret};

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
        contact_email: None,
        contact_phone: None,
        website_url: None,
        status: ProviderStatus::Approved,
        state_reason: String::new(),
        registered_by: "bench".to_owned(),
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

/// The request and outbox rows of the `n`th seeded change, about `entity`.
pub fn seed_change(n: usize, entity: &str) -> Change {
    Change {
        request: RecordedRequest {
            principal: "bench".to_owned(),
            request_id: format!("seed-{n}"),
            method: "/bench/Seed".to_owned(),
            request: Vec::new(),
            response: Vec::new(),
            created_at: now(),
        },
        event: OutboxEvent {
            topic: Topic::Listing,
            entity_id: entity.to_owned(),
            kind: "listing.published".to_owned(),
            payload: "{}".to_owned(),
        },
    }
}

/// A running catalogue server on a free port, without rate limits, searching `index`: its
/// endpoint, and the sender that stops it (dropping it stops it too) with the server's task.
pub async fn serve<S: CatalogStore, I: SearchIndex>(
    store: S,
    index: I,
    territory: Arc<Territory>,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), welfare_runtime::server::StartupError>>,
) {
    let mut config = RuntimeConfig::default();
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.auth.hs256_secret = Some(Secret::new("catalog-benchmark-hs256-secret-of-32b"));
    config.limits.rate_limit_per_second = 1_000_000;
    config.limits.rate_limit_burst = 1_000_000;
    let api = CatalogApi::new(
        store,
        index,
        territory,
        system_clock(),
        catalog_svc::local_words::LocalWords::default(),
    );
    let services = api.into_services(config.limits.max_message_bytes);
    let app = Application::build(&config, services).await.expect("server");
    let endpoint = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (endpoint, stop, server)
}
