//! Hold + capture pairs per second over gRPC on PostgreSQL, 64 concurrent clients spread over
//! 10,000 wallets, with a baseline measured in the same run: pgbench doing one conditional
//! single-row UPDATE per transaction with the same number of clients.
//!
//! It also times FundWallets of 10,000 employees (one atomic batch), beside the database's own
//! cost for the same writes: one psql transaction inserting 10,000 wallet rows, crediting them
//! and inserting 10,000 transfer rows with `generate_series`.
//!
//! Run: `scripts/bench-wallet` (starts a throwaway PostgreSQL, then this with DATABASE_URL set).
//! Optional: `BENCH_SECONDS` (default 20), `BENCH_CLIENTS` (default 64).
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::Request;
use wallet_svc::grpc::{WalletApi, system_clock};
use wallet_svc::ledger::Ledger;
use welfare_proto::common;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::*;
use welfare_runtime::Application;
use welfare_runtime::config::{RuntimeConfig, Secret};
use welfare_runtime::testing::{Tenant, signed_token, with_bearer};

const SECRET: &str = "wallet-benchmark-hs256-secret-of-32-bytes";
const WALLETS: usize = 10_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn token(subject: &str, role: &str, company: Option<&str>) -> String {
    let now = welfare_runtime::clock::system_clock()().unix_seconds();
    let tenant = company.map_or(Tenant::None, Tenant::Company);
    signed_token(SECRET, subject, &[role], tenant, now + 86_400)
}

fn call<T>(message: T, bearer: &str) -> Request<T> {
    with_bearer(message, bearer)
}

fn eur(cents: i64) -> Option<common::Money> {
    Some(common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// pgbench: one conditional single-row UPDATE per transaction over 10,000 rows.
fn pgbench_baseline(url: &str, clients: u64, seconds: u64) -> f64 {
    let setup = "DROP TABLE IF EXISTS bench_accounts; \
                 CREATE TABLE bench_accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL); \
                 INSERT INTO bench_accounts SELECT g, 1000000000 FROM generate_series(1, 10000) g;";
    let status = Command::new("psql")
        .args([url, "-qc", setup])
        .status()
        .expect("psql");
    assert!(status.success(), "baseline setup failed");
    let script = std::env::temp_dir().join("lodiwelfare-pgbench.sql");
    std::fs::write(&script, "\\set id random(1, 10000)\nUPDATE bench_accounts SET balance = balance - 1 WHERE id = :id AND balance >= 1;\n").expect("script");
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("pgbench");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no tps in pgbench output: {text}"))
}

/// The database alone doing a funding batch's writes, in one psql transaction: seconds.
fn funding_baseline(url: &str) -> f64 {
    let sql = format!(
        "BEGIN; \
         INSERT INTO wallets (id, company_id, plan_id, employee_id, created_at) \
           SELECT 'base/' || g, 'base', 'base', 'e' || g, 0 FROM generate_series(1, {WALLETS}) g; \
         UPDATE wallets SET credits_posted = credits_posted + 50000 WHERE plan_id = 'base'; \
         INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, fingerprint, created_at) \
           SELECT 'base-' || g, 'base-' || g, 'funding', 'company:base:base', 'wallet:base/' || g, 50000, 'base', 0 \
           FROM generate_series(1, {WALLETS}) g; \
         ROLLBACK;"
    );
    let started = Instant::now();
    let status = Command::new("psql")
        .args([url, "-qc", &sql])
        .status()
        .expect("psql");
    assert!(status.success(), "funding baseline failed");
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/bench-wallet");
    let seconds = env_number("BENCH_SECONDS", 20);
    let _ =
        welfare_runtime::telemetry::Telemetry::init(&welfare_runtime::config::TelemetryConfig {
            log_filter: "warn".to_owned(),
            ..Default::default()
        });
    let clients = env_number("BENCH_CLIENTS", 64);
    let url = welfare_storage::testing::recreate_database(&admin_url, "wallet_bench").await;

    let ledger = Ledger::connect(&url, 48).await.expect("ledger");
    let mut config = RuntimeConfig::default();
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.auth.hs256_secret = Some(Secret::new(SECRET));
    config.limits.rate_limit_per_second = 1_000_000;
    config.limits.rate_limit_burst = 1_000_000;
    config.limits.max_message_bytes = 16 * 1024 * 1024;
    let services = WalletApi::new(ledger.clone(), system_clock())
        .into_services(config.limits.max_message_bytes);
    let app = Application::build(&config, services).await.expect("server");
    let endpoint = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let admin_token = token("hr", "company_admin", Some("acme"));
    let mut client = WalletServiceClient::connect(endpoint.clone())
        .await
        .expect("connect")
        .max_encoding_message_size(16 * 1024 * 1024);
    let year = welfare_runtime::clock::system_clock()()
        .date()
        .expect("date")
        .year();
    let plan = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(Plan {
                    display_name: "Benchmark".to_owned(),
                    year,
                    allowance_per_employee: eur(50_000),
                    allowed_categories: vec![common::Category::Sanitario.into()],
                    regime: Regime::Art51C2Services.into(),
                    expire_date: Some(common::Date {
                        year,
                        month: 12,
                        day: 31,
                    }),
                    ..Plan::default()
                }),
                request_id: "bench".to_owned(),
            },
            &admin_token,
        ))
        .await
        .expect("plan")
        .into_inner();
    let fundings = (0..WALLETS)
        .map(|i| Funding {
            employee_id: format!("e{i}"),
            ..Funding::default()
        })
        .collect();
    let started = Instant::now();
    let funded = client
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: plan.id.clone(),
                fundings,
                request_id: "fund".to_owned(),
            },
            &admin_token,
        ))
        .await
        .expect("fund")
        .into_inner();
    let funding_seconds = started.elapsed().as_secs_f64();
    let funding_baseline_seconds = funding_baseline(&url);
    let wallets: Arc<Vec<String>> =
        Arc::new(funded.results.into_iter().map(|r| r.wallet_id).collect());

    let booking = token("booking-svc", "booking_service", None);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for task in 0..clients {
        let (endpoint, wallets, booking) =
            (endpoint.clone(), Arc::clone(&wallets), booking.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = WalletServiceClient::connect(endpoint)
                .await
                .expect("connect");
            let mut latencies = Vec::new();
            let mut n: u64 = 0;
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            while Instant::now() < deadline {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let wallet = wallets[(state % wallets.len() as u64) as usize].clone();
                let id = format!("b{task}-{n}");
                let began = Instant::now();
                let expire = welfare_proto::convert::timestamp_to_proto(
                    welfare_runtime::clock::system_clock()().plus_seconds(600),
                );
                let hold = client
                    .hold_funds(call(
                        HoldFundsRequest {
                            wallet_id: wallet,
                            amount: eur(100),
                            category: common::Category::Sanitario.into(),
                            tax_letter: common::TaxLetter::F.into(),
                            expire_time: Some(expire),
                            request_id: id.clone(),
                            ..HoldFundsRequest::default()
                        },
                        &booking,
                    ))
                    .await
                    .expect("hold")
                    .into_inner();
                client
                    .capture_hold(call(
                        CaptureHoldRequest {
                            hold_id: hold.id,
                            amount: None,
                            request_id: format!("{id}c"),
                        },
                        &booking,
                    ))
                    .await
                    .expect("capture");
                latencies.push(began.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let measured = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let elapsed = measured.elapsed().as_secs_f64();
    latencies.sort();
    let pairs = latencies.len() as f64 / elapsed;
    let report = ledger.check_invariants().await.expect("invariants");
    assert!(report.holds(), "{report:?}");

    let baseline = pgbench_baseline(&url, clients, seconds);
    println!(
        "wallet hold+capture over gRPC on PostgreSQL: {clients} clients, {WALLETS} wallets, {seconds} s"
    );
    println!("  funding {WALLETS} wallets in one FundWallets call: {funding_seconds:.2} s");
    println!(
        "  baseline: the same writes in one psql transaction: {funding_baseline_seconds:.2} s (ratio {:.1})",
        funding_seconds / funding_baseline_seconds
    );
    println!("  pairs/s: {pairs:.0}  (transfers/s: {:.0})", pairs * 2.0);
    println!(
        "  pair latency p50: {:.2} ms, p99: {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "baseline pgbench, one conditional single-row UPDATE per transaction: {baseline:.0} tps"
    );
    println!(
        "  ratio transfers/s : baseline tps = {:.2}",
        pairs * 2.0 / baseline
    );
}
