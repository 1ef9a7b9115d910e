//! The dashboards and alerts of `deploy/` proven against a real Prometheus (Debian's package;
//! `scripts/test` installs it when missing): `promtool check rules` passes; `lodiwelfare serve`
//! and a deliberately broken `booking-svc` (its catalogue is a port nobody listens on) run as
//! processes with their scrape endpoints; traffic goes through every kind of call — unary
//! answers and refusals, a server stream, a path nobody serves, a booking with its wallet hold,
//! one refused by an eligibility rule, searches that find something and nothing; Prometheus
//! scrapes both every second and evaluates the rules; then **every** PromQL expression of every
//! dashboard panel, and the measure of every alert rule (its expression before the final
//! comparison), is run through Prometheus's HTTP API and must parse and return series — a panel
//! on a metric nobody emits fails here. The broken service trips the error-rate alert; the
//! healthy one does not.
#![allow(clippy::print_stdout, clippy::indexing_slicing)]

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use welfare_runtime::testing::pki::{TestPki, Usage};

use serde_json::Value;
use support::*;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::{self as bpb};
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{self as cpb};
use welfare_proto::common;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{self as wpb};
use welfare_runtime::clock::system_clock;
use welfare_runtime::testing::{Tenant, seed, with_bearer};

/// The scrape job of the healthy process, and of the broken one.
const HEALTHY: &str = "lodiwelfare";
const BROKEN: &str = "booking-svc-broken";

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tool of Debian's `prometheus` package: a clear failure, not a skip, when it is missing.
fn tool(name: &str) -> Command {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{name} is not installed: install Debian's `prometheus` package (scripts/test does)"
    );
    Command::new(name)
}

/// A binary of the workspace beside `lodiwelfare`, built first: a run of this package alone
/// would otherwise use whatever older build lies there.
fn sibling(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_lodiwelfare")).with_file_name(name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = Command::new(cargo)
        .args(["build", "-p", name, "--bin", name])
        .status()
        .expect("cargo build");
    assert!(built.success(), "cannot build {name}");
    path
}

/// One HTTP/1.0 GET (no chunking, the connection closed after the answer): status and body.
fn get(port: u16, path_and_query: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: localhost\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `text` percent-encoded for a query string.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query: Prometheus's answer, which must be a success.
fn query(port: u16, expr: &str) -> Value {
    let (status, body) = get(port, &format!("/api/v1/query?query={}", encoded(expr)));
    let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert!(
        status == 200 && answer["status"] == "success",
        "Prometheus refused {expr}: {status} {body}"
    );
    answer
}

/// The series an instant query returns.
fn series(port: u16, expr: &str) -> Vec<Value> {
    query(port, expr)["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An alert rule's measure: its expression before the last comparison outside brackets and
/// quotes (the rules are written `<measure> <comparison> <threshold>`).
fn measure(expr: &str) -> &str {
    let bytes = expr.as_bytes();
    let (mut depth, mut quoted, mut cut) = (0i32, false, None);
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'(' | b'{' | b'[' if !quoted => depth += 1,
            b')' | b'}' | b']' if !quoted => depth -= 1,
            b'>' | b'<' if !quoted && depth == 0 => cut = Some(i),
            b'=' if !quoted
                && depth == 0
                && bytes.get(i + 1) == Some(&b'=')
                && i > 0
                && bytes.get(i - 1) != Some(&b'!') =>
            {
                cut = Some(i);
            }
            _ => {}
        }
    }
    cut.and_then(|i| expr.get(..i)).unwrap_or(expr).trim()
}

#[test]
fn a_rule_is_measured_before_its_comparison() {
    assert_eq!(measure("max by (job) (x) > 500"), "max by (job) (x)");
    assert_eq!(
        measure("sum(rate(a{b=\"c>d\"}[5m])) / sum(rate(e[5m])) >= 0.5"),
        "sum(rate(a{b=\"c>d\"}[5m])) / sum(rate(e[5m]))"
    );
    assert_eq!(measure("sum(x) == 0"), "sum(x)");
    assert_eq!(measure("up"), "up");
}

/// Every PromQL expression of every dashboard: (dashboard, panel, expression with `$job`
/// standing for the healthy job).
fn panel_expressions() -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let dir = deploy("grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dashboards")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the dashboards are in {}", dir.display());
    for file in files {
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        let title = dashboard["title"].as_str().unwrap_or_default().to_owned();
        for panel in dashboard["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("expr");
                found.push((
                    title.clone(),
                    panel["title"].as_str().unwrap_or_default().to_owned(),
                    expr.replace("$job", HEALTHY),
                ));
            }
        }
    }
    found
}

/// What the traffic books: a children's swimming course with a slot, a funded employee.
struct Booked {
    listing: String,
    slot: String,
    wallet: String,
    employee: String,
}

/// Seeds the healthy process as its users would: a provider, its course, a plan, a wallet.
async fn seed_platform(serving: &Serving, secret: &str) -> Booked {
    let channel = serving.channel().await;
    let mut catalog = CatalogServiceClient::new(channel.clone());
    let mut wallet = WalletServiceClient::new(channel.clone());
    let mut booking = BookingServiceClient::new(channel);
    let provider =
        seed::approved_provider(&mut catalog, secret, "Piscina di Lodi", "01234560983").await;
    let listing =
        seed::published_listing(&mut catalog, secret, &provider, seed::swimming_course(8)).await;
    let year = system_clock()().date().expect("date").year();
    let plan = seed::plan(
        &mut wallet,
        secret,
        year,
        10_000,
        &[common::Category::CuraFigli],
    )
    .await;
    let hr = seed::token(
        secret,
        "hr-acme",
        &["company_admin"],
        Tenant::Company("acme"),
    );
    let employee = "anna".to_owned();
    let funded = wallet
        .fund_wallets(with_bearer(
            wpb::FundWalletsRequest {
                plan_id: plan,
                fundings: vec![wpb::Funding {
                    employee_id: employee.clone(),
                    ..Default::default()
                }],
                request_id: "fund".to_owned(),
            },
            &hr,
        ))
        .await
        .expect("fund")
        .into_inner();
    let now = system_clock()();
    let slot = booking
        .create_slots(with_bearer(
            bpb::CreateSlotsRequest {
                listing_id: listing.clone(),
                slots: vec![bpb::SlotSpec {
                    start_time: Some(welfare_proto::convert::timestamp_to_proto(
                        now.plus_seconds(86_400 * 3),
                    )),
                    end_time: Some(welfare_proto::convert::timestamp_to_proto(
                        now.plus_seconds(86_400 * 3 + 3_600),
                    )),
                    capacity: 0,
                }],
                request_id: "slots".to_owned(),
            },
            &seed::operator_of(secret, &provider),
        ))
        .await
        .expect("slots")
        .into_inner()
        .slots
        .remove(0);
    Booked {
        listing,
        slot: slot.id,
        wallet: funded.results.first().expect("funded").wallet_id.clone(),
        employee,
    }
}

/// Calls of every kind on the healthy process: answers, refusals, a stream, a booking with its
/// hold (then cancelled: released), one refused by an eligibility rule, searches.
async fn drive(serving: &Serving, secret: &str, seeded: &Booked, round: usize) {
    let channel = serving.channel().await;
    let mut catalog = CatalogServiceClient::new(channel.clone());
    let mut booking = BookingServiceClient::new(channel.clone());
    let anna = seed::token(
        secret,
        &seeded.employee,
        &["employee"],
        Tenant::Company("acme"),
    );
    let book = |age: u32, request: &str| bpb::CreateBookingRequest {
        listing_id: seeded.listing.clone(),
        slot_id: seeded.slot.clone(),
        quantity: 1,
        profile: Some(common::Profile {
            beneficiary_age_years: Some(age),
            ..Default::default()
        }),
        wallet_id: seeded.wallet.clone(),
        request_id: format!("{request}-{round}"),
        ..Default::default()
    };
    let booked = booking
        .create_booking(with_bearer(book(8, "book"), &anna))
        .await
        .expect("a booking with its hold")
        .into_inner();
    booking
        .cancel_booking(with_bearer(
            bpb::CancelBookingRequest {
                id: booked.id,
                request_id: format!("cancel-{round}"),
                ..Default::default()
            },
            &anna,
        ))
        .await
        .expect("cancelled: the hold released");
    let refused = booking
        .create_booking(with_bearer(book(40, "adult"), &anna))
        .await
        .expect_err("a 40-year-old on a children's course");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    // Searches finding something and nothing; a stream; refusals of the caller's making.
    for text in ["nuoto", "corso di nuoto per bambini", "zzqqxxyy"] {
        catalog
            .search_listings(cpb::SearchListingsRequest {
                query: text.to_owned(),
                ..Default::default()
            })
            .await
            .expect("search");
    }
    let mut export = catalog
        .export_catalog(cpb::ExportCatalogRequest {})
        .await
        .expect("export")
        .into_inner();
    while export.message().await.expect("export chunk").is_some() {}
    let missing = catalog
        .get_listing(cpb::GetListingRequest {
            id: "0190f3b2-0000-7000-8000-000000000000".to_owned(),
        })
        .await;
    assert!(missing.is_err());
    let unauthenticated = booking
        .get_booking(bpb::GetBookingRequest { id: "x".to_owned() })
        .await;
    assert_eq!(
        unauthenticated.map_err(|s| s.code()).err(),
        Some(tonic::Code::Unauthenticated)
    );
    // A path nobody serves (a server error, UNIMPLEMENTED) among many answered calls.
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.expect("ready");
    let unknown: Result<tonic::Response<()>, tonic::Status> = raw
        .unary(
            with_bearer((), &anna),
            http::uri::PathAndQuery::from_static("/invented.Service/Anything"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert_eq!(
        unknown.err().map(|s| s.code()),
        Some(tonic::Code::Unimplemented)
    );
    for _ in 0..60 {
        catalog
            .list_categories(cpb::ListCategoriesRequest::default())
            .await
            .expect("categories");
    }
}

/// The broken booking service: every booking fails on its side (UNAVAILABLE).
async fn drive_broken(url: &str, secret: &str) {
    let mut booking = BookingServiceClient::connect(url.to_owned())
        .await
        .expect("connect");
    let anna = seed::token(secret, "anna", &["employee"], Tenant::Company("acme"));
    for n in 0..20 {
        let failed = booking
            .create_booking(with_bearer(
                bpb::CreateBookingRequest {
                    listing_id: "0190f3b2-0000-7000-8000-000000000001".to_owned(),
                    quantity: 1,
                    request_id: format!("broken-{n}-{}", std::process::id()),
                    ..Default::default()
                },
                &anna,
            ))
            .await
            .expect_err("its catalogue is unreachable");
        assert_eq!(failed.code(), tonic::Code::Unavailable, "{failed:?}");
    }
}

/// Waits until `check` holds, or fails naming `what`.
async fn until(what: &str, seconds: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_and_alert_reads_series_from_a_real_prometheus() {
    let rules = deploy("prometheus/alerts.yaml");
    let checked = tool("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check rules: {}",
        String::from_utf8_lossy(&checked.stdout) + String::from_utf8_lossy(&checked.stderr)
    );

    let dir = scratch("prometheus");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let (port, metrics) = (free_port(), free_port());
    let mut command = lodiwelfare(&dir.join("data"), port);
    command.env(
        "LODIWELFARE__TELEMETRY__METRICS_ADDR",
        format!("127.0.0.1:{metrics}"),
    );
    let serving = Serving::started(command, port).await;
    let secret = secret(&dir.join("data"));

    let (broken_port, broken_metrics) = (free_port(), free_port());
    let nobody = free_port();
    // Its own client certificate, as deployed (the certificate-expiry alert reads it).
    let pki = TestPki::new(&dir.join("pki"), "ambito");
    let identity = pki.issue("booking", &["booking-svc"], Usage::Client);
    let broken = Process(
        Command::new(sibling("booking-svc"))
            .env("LODIWELFARE__UPSTREAM__TLS__CA_FILE", pki.ca_file())
            .env("LODIWELFARE__UPSTREAM__TLS__CERT_FILE", &identity.cert_file)
            .env("LODIWELFARE__UPSTREAM__TLS__KEY_FILE", &identity.key_file)
            .env(
                "LODIWELFARE__SERVER__LISTEN_ADDR",
                format!("127.0.0.1:{broken_port}"),
            )
            .env(
                "LODIWELFARE__TELEMETRY__METRICS_ADDR",
                format!("127.0.0.1:{broken_metrics}"),
            )
            .env("LODIWELFARE__TELEMETRY__SERVICE_NAME", BROKEN)
            .env(
                "LODIWELFARE__DATABASE__URL",
                format!("sqlite://{}?mode=rwc", dir.join("broken.db").display()),
            )
            .env("LODIWELFARE__AUTH__HS256_SECRET", &secret)
            .env(
                "LODIWELFARE__UPSTREAM__CATALOG_URL",
                format!("http://127.0.0.1:{nobody}"),
            )
            .env(
                "LODIWELFARE__UPSTREAM__WALLET_URL",
                format!("http://127.0.0.1:{nobody}"),
            )
            .env("LODIWELFARE__UPSTREAM__TIMEOUT_MS", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start booking-svc"),
    );
    let broken_url = format!("http://127.0.0.1:{broken_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while BookingServiceClient::connect(broken_url.clone())
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "booking-svc did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let prometheus_port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: {HEALTHY}\n    static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n\
             \x20 - job_name: {BROKEN}\n    static_configs:\n      - targets: ['127.0.0.1:{broken_metrics}']\n",
            rules.display()
        ),
    )
    .expect("config");
    let _prometheus = Process(
        tool("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    until("Prometheus is ready", 60, || {
        std::net::TcpStream::connect(("127.0.0.1", prometheus_port)).is_ok()
            && get(prometheus_port, "/-/ready").0 == 200
    })
    .await;
    until("both targets are scraped", 60, || {
        series(prometheus_port, "up == 1").len() == 2
    })
    .await;

    // Two rounds of traffic with scrapes between them: rates need two samples.
    let seeded = seed_platform(&serving, &secret).await;
    for round in 0..2 {
        drive(&serving, &secret, &seeded, round).await;
        drive_broken(&broken_url, &secret).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }

    let mut report = Vec::new();
    let mut empty = Vec::new();
    for (dashboard, panel, expr) in panel_expressions() {
        let found = series(prometheus_port, &expr);
        if found.is_empty() {
            empty.push(format!("{dashboard} / {panel}: {expr}"));
        }
        report.push(format!("{dashboard} | {panel} | {} series", found.len()));
    }
    let (_, body) = get(prometheus_port, "/api/v1/rules");
    let loaded: Value = serde_json::from_str(&body).expect("rules json");
    let mut alerts = 0;
    for group in loaded["data"]["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            alerts += 1;
            let name = rule["name"].as_str().unwrap_or_default();
            let expr = rule["query"].as_str().expect("query");
            let found = series(prometheus_port, measure(expr));
            if found.is_empty() {
                empty.push(format!("alert {name}: {}", measure(expr)));
            }
            report.push(format!("alert {name} | {} series", found.len()));
        }
    }
    println!("{}", report.join("\n"));
    assert!(alerts >= 8, "the rules were loaded: {body}");
    assert!(
        empty.is_empty(),
        "expressions that returned no series:\n{}",
        empty.join("\n")
    );

    // The broken service trips the error-rate alert (pending: its `for` has not passed); the
    // healthy one does not.
    let tripped = |job: &str| {
        let (_, body) = get(prometheus_port, "/api/v1/alerts");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        answer["data"]["alerts"].as_array().is_some_and(|alerts| {
            alerts.iter().any(|a| {
                a["labels"]["alertname"] == "LodiwelfareHighErrorRate" && a["labels"]["job"] == job
            })
        })
    };
    until(
        "the error-rate alert trips for the broken service",
        30,
        || tripped(BROKEN),
    )
    .await;
    assert!(
        !tripped(HEALTHY),
        "the healthy process tripped the error-rate alert"
    );
    drop(broken);
    drop(serving);
    std::fs::remove_dir_all(&dir).ok();
}
