//! The wallet service's composition root: from a configuration and a clock to the routes the
//! runtime serves and the background tasks that run beside them. `wallet-svc`'s `main` and the
//! all-in-one process both start the service here.

use std::time::Duration;

use welfare_runtime::ServiceSet;
use welfare_runtime::client_cert::AllowedClients;
use welfare_runtime::clock::Clock;
use welfare_runtime::tasks::BackgroundTasks;

use crate::config::WalletConfig;
use crate::grpc::{WalletApi, holds_gate};
use crate::ledger::{Ledger, LedgerError};

/// The shortest pause between two sweeps.
pub const MIN_SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// A started wallet service: its routes, its sweeper, and the ledger under them.
#[derive(Debug)]
pub struct Started {
    pub services: ServiceSet,
    /// With `holds.listen_addr`: the routes of the holds port (and `services` refuses the hold
    /// RPCs).
    pub holds: Option<ServiceSet>,
    pub tasks: BackgroundTasks,
    pub ledger: Ledger,
}

/// The sweeper's name, in logs and in `lodiwelfare.task.passes`.
pub const SWEEPER: &str = "wallet-sweeper";

/// Opens the ledger the configuration names (creating an SQLite file's directory), applies
/// its migrations, and starts the sweeper on `clock`.
pub async fn start(config: &WalletConfig, clock: Clock) -> Result<Started, LedgerError> {
    let clients = match config.holds.client_names.as_slice() {
        [] => None,
        names => Some(
            AllowedClients::new(names).map_err(|problem| LedgerError::Invalid {
                field: "holds.client_names",
                problem,
            })?,
        ),
    };
    welfare_storage::url::create_sqlite_dir(&config.database.url).map_err(|e| {
        LedgerError::Invalid {
            field: "database.url",
            problem: format!("cannot create the SQLite file's directory: {e}"),
        }
    })?;
    let ledger = Ledger::connect(&config.database.url, config.database.max_connections).await?;
    crate::metrics::init();
    let mut tasks = BackgroundTasks::default();
    let interval = Duration::from_millis(config.sweeper.interval_ms).max(MIN_SWEEP_INTERVAL);
    tasks.spawn(SWEEPER, sweep(ledger.clone(), clock.clone(), interval));
    let api = WalletApi::new(ledger.clone(), clock);
    let max = config.limits.max_message_bytes;
    let (services, holds) = match config.holds.listen_addr {
        None => (api.into_services(max), None),
        Some(holds_addr) => {
            let (main, holds) = (
                config.server.listen_addr.to_string(),
                holds_addr.to_string(),
            );
            let mut holds_port = api
                .clone()
                .into_services(max)
                .gated(holds_gate(true, &main, &holds));
            if let Some(clients) = clients {
                holds_port = holds_port.for_clients(clients);
            }
            (
                api.into_services(max)
                    .gated(holds_gate(false, &main, &holds)),
                Some(holds_port),
            )
        }
    };
    Ok(Started {
        services,
        holds,
        tasks,
        ledger,
    })
}

/// Expires pending holds past their deadline, so held credit always comes back, and settles
/// credit given back to wallets of already settled plans (where settling it at once failed).
pub async fn sweep(ledger: Ledger, clock: Clock, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let now = clock().unix_seconds();
        let mut ok = true;
        match ledger.expire_due(now).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired pending holds"),
            Err(error) => {
                ok = false;
                tracing::warn!(%error, "hold sweep failed; retrying at the next tick");
            }
        }
        match ledger.settle_lapsed(now).await {
            Ok(0) => {}
            Ok(settled) => tracing::info!(settled, "settled credit given back after year end"),
            Err(error) => {
                ok = false;
                tracing::warn!(%error, "settlement sweep failed; retrying at the next tick");
            }
        }
        welfare_runtime::tasks::record_pass(SWEEPER, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use welfare_core::Money;
    use welfare_core::time::Timestamp;

    use crate::ledger::{NewHold, NewWallet};

    /// The sweeper reads the injected clock, never the system's: a hold due only in the test's
    /// future is expired once that clock reaches it.
    #[tokio::test]
    async fn the_sweeper_runs_on_the_injected_clock() {
        let dir =
            std::env::temp_dir().join(format!("lodiwelfare-wallet-startup-{}", std::process::id()));
        let mut config = WalletConfig::default();
        config.database.url = format!("sqlite://{}?mode=rwc", dir.join("w.db").display());
        config.sweeper.interval_ms = 0;
        // Far in the future of the system clock: only this clock makes the hold due.
        let now = Arc::new(AtomicI64::new(4_000_000_000));
        let seen = Arc::clone(&now);
        let clock: Clock =
            Arc::new(move || Timestamp::from_unix_seconds(seen.load(Ordering::SeqCst)));
        let started = start(&config, clock).await.expect("start");
        assert_eq!(started.tasks.names(), ["wallet-sweeper"]);
        let ledger = started.ledger.clone();
        let wallet = NewWallet {
            id: "w".to_owned(),
            company_id: "acme".to_owned(),
            plan_id: "p".to_owned(),
            employee_id: "e".to_owned(),
        };
        ledger.open_wallet(&wallet, 0).await.expect("open");
        let ten = Money::from_cents(1_000).expect("cents");
        ledger.fund("f", "w", ten, 0).await.expect("fund");
        let hold = NewHold {
            id: "h".to_owned(),
            key: "h".to_owned(),
            wallet_id: "w".to_owned(),
            amount: ten,
            expires_at: 4_000_000_100,
            category: "cura-figli".to_owned(),
            tax_letter: "f-bis".to_owned(),
            booking_id: None,
            fringe: None,
            provider_id: None,
        };
        ledger.hold(&hold, 4_000_000_000).await.expect("hold");
        now.store(4_000_000_200, Ordering::SeqCst);
        for _ in 0..200 {
            if ledger.balance("w").await.expect("balance").available() == ten {
                drop(started);
                std::fs::remove_dir_all(&dir).ok();
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the sweeper never expired the hold on the injected clock");
    }
}
