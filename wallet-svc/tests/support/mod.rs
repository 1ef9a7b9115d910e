//! Fresh ledgers for the suites, on the databases `welfare_storage::testing` makes (the
//! PostgreSQL suites fail, rather than skip, without `DATABASE_URL`), and their helpers.
#![allow(dead_code, unreachable_pub)]

pub mod grpc;

use wallet_svc::ledger::{Ledger, NewWallet};
use welfare_core::Money;
use welfare_storage::Backend;
use welfare_storage::testing::{fresh_postgres_url, fresh_sqlite_url};

pub async fn sqlite() -> Ledger {
    let url = fresh_sqlite_url("lodiwelfare_wallet", "wallet.db");
    Ledger::connect(&url, 1).await.expect("sqlite ledger")
}

pub async fn postgres(max_connections: u32) -> Ledger {
    let url = fresh_postgres_url("wallet_test").await;
    Ledger::connect(&url, max_connections)
        .await
        .expect("postgres ledger")
}

/// A fresh ledger on `backend`, for `welfare_storage::on_every_backend!`.
pub async fn open(backend: Backend) -> Ledger {
    match backend {
        Backend::Sqlite => sqlite().await,
        Backend::Postgres => postgres(8).await,
    }
}

pub fn euros(value: i64) -> Money {
    Money::from_euros(value).expect("in range")
}

pub fn cents(value: i64) -> Money {
    Money::from_cents(value).expect("in range")
}

pub async fn wallet(ledger: &Ledger, id: &str, funded: Money) -> String {
    let wallet = NewWallet {
        id: id.to_owned(),
        company_id: "acme".to_owned(),
        plan_id: "plan-2026".to_owned(),
        employee_id: format!("emp-{id}"),
    };
    ledger.open_wallet(&wallet, 0).await.expect("open wallet");
    if funded.is_positive() {
        ledger
            .fund(&format!("fund-{id}"), id, funded, 0)
            .await
            .expect("fund");
    }
    id.to_owned()
}
