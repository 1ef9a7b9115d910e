//! Fresh ledgers for the suites: a SQLite file in a temporary directory, and a PostgreSQL
//! database of its own on the server `DATABASE_URL` names (`scripts/test` starts one). The
//! PostgreSQL suites fail, rather than skip, without it: a suite that silently passes proves
//! nothing.
#![allow(dead_code, unreachable_pub, unused_macros)]

pub mod grpc;

use std::sync::atomic::{AtomicUsize, Ordering};

use wallet_svc::ledger::{Ledger, NewWallet};
use welfare_core::Money;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn sqlite() -> Ledger {
    let dir = std::env::temp_dir().join(unique_name("lodiwelfare_wallet"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("wallet.db").display());
    Ledger::connect(&url, 1).await.expect("sqlite ledger")
}

pub async fn postgres(max_connections: u32) -> Ledger {
    let admin_url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL server: run the suite with scripts/test");
    sqlx::any::install_default_drivers();
    let name = unique_name("wallet_test");
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("database url with a path");
    Ledger::connect(&format!("{base}/{name}"), max_connections)
        .await
        .expect("postgres ledger")
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

/// Runs each named suite `async fn(Ledger)` against a fresh SQLite ledger and a fresh
/// PostgreSQL one.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::support::sqlite().await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::support::postgres(8).await).await;
            })*
        }
    };
}
