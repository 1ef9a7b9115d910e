//! `lodiwelfare serve` as a real process on a temporary data directory: it starts with no
//! configuration at all, serves the three services (a booking made through it, the booking
//! service calling the others in process), keeps its development secret so tokens survive a
//! restart, drains and exits 0 on SIGINT, and keeps everything across a restart; a bad
//! configuration key, an unwritable data directory and a port in use each end it with a clear
//! message, the documented exit code, and nothing written.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::{self as bpb};
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::common;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{self as wpb};
use welfare_runtime::clock::system_clock;
use welfare_runtime::testing::{Tenant, seed, with_bearer};

mod support;
use lodiwelfare::demo;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_with_nothing_configured_books_and_keeps_everything_across_a_restart() {
    let data_dir = scratch("fresh");
    std::fs::remove_dir_all(&data_dir).ok();
    let first = Serving::start(&data_dir).await;
    let secret = secret(&data_dir);
    let channel = first.channel().await;
    let mut catalog = CatalogServiceClient::new(channel.clone());
    let mut wallet = WalletServiceClient::new(channel.clone());
    let mut booking = BookingServiceClient::new(channel);
    let provider =
        seed::approved_provider(&mut catalog, &secret, "Piscina di Lodi", "01234560983").await;
    let listing =
        seed::published_listing(&mut catalog, &secret, &provider, seed::swimming_course(8)).await;
    let year = system_clock()().date().expect("date").year();
    let plan = seed::plan(
        &mut wallet,
        &secret,
        year,
        10_000,
        &[common::Category::CuraFigli],
    )
    .await;
    let hr = seed::token(
        &secret,
        "hr-acme",
        &["company_admin"],
        Tenant::Company("acme"),
    );
    let funded = wallet
        .fund_wallets(with_bearer(
            wpb::FundWalletsRequest {
                plan_id: plan,
                fundings: vec![wpb::Funding {
                    employee_id: "anna".to_owned(),
                    ..Default::default()
                }],
                request_id: "fund".to_owned(),
            },
            &hr,
        ))
        .await
        .expect("fund")
        .into_inner();
    let wallet_id = funded.results.first().expect("funded").wallet_id.clone();
    let operator = seed::operator_of(&secret, &provider);
    let now = system_clock()();
    let slot = booking
        .create_slots(with_bearer(
            bpb::CreateSlotsRequest {
                listing_id: listing.clone(),
                slots: vec![bpb::SlotSpec {
                    start_time: Some(welfare_proto::convert::timestamp_to_proto(
                        now.plus_seconds(86_400),
                    )),
                    end_time: Some(welfare_proto::convert::timestamp_to_proto(
                        now.plus_seconds(90_000),
                    )),
                    capacity: 0,
                }],
                request_id: "slots".to_owned(),
            },
            &operator,
        ))
        .await
        .expect("slots")
        .into_inner()
        .slots
        .remove(0);
    let anna = seed::token(&secret, "anna", &["employee"], Tenant::Company("acme"));
    let booked = booking
        .create_booking(with_bearer(
            bpb::CreateBookingRequest {
                listing_id: listing,
                slot_id: slot.id,
                quantity: 1,
                profile: Some(common::Profile {
                    beneficiary_age_years: Some(8),
                    ..Default::default()
                }),
                wallet_id: wallet_id.clone(),
                request_id: "book".to_owned(),
                ..Default::default()
            },
            &anna,
        ))
        .await
        .expect("book through the one process")
        .into_inner();
    assert_eq!(booked.state, bpb::booking::State::Held as i32);
    assert!(
        !booked.wallet_hold_id.is_empty(),
        "the wallet held the credit in process"
    );
    drop((catalog, wallet, booking));
    let status = first.interrupt();
    assert_eq!(status.code(), Some(0), "SIGINT drains and exits 0");

    // The same directory again: the same secret, the booking and the hold still there, read
    // with a token `lodiwelfare token` mints.
    let second = Serving::start(&data_dir).await;
    assert_eq!(self::secret(&data_dir), secret);
    let anna = mint(
        &data_dir,
        &[
            "--role",
            "employee",
            "--subject",
            "anna",
            "--company",
            "acme",
        ],
    );
    let channel = second.channel().await;
    let again = BookingServiceClient::new(channel.clone())
        .get_booking(with_bearer(
            bpb::GetBookingRequest {
                id: booked.id.clone(),
            },
            &anna,
        ))
        .await
        .expect("the booking survived the restart")
        .into_inner();
    assert_eq!(again.etag, booked.etag);
    let held = WalletServiceClient::new(channel)
        .get_wallet(with_bearer(
            wpb::GetWalletRequest {
                id: wallet_id,
                ..Default::default()
            },
            &anna,
        ))
        .await
        .expect("wallet")
        .into_inner();
    assert_eq!(held.pending.map(|m| m.amount_cents), Some(1_250));
    assert_eq!(second.interrupt().code(), Some(0));
    std::fs::remove_dir_all(&data_dir).ok();
}

#[test]
fn a_bad_key_an_unwritable_directory_and_a_port_in_use_end_it_clearly() {
    // An unknown configuration key: a usage error (2), nothing created.
    let data_dir = scratch("bad-key");
    std::fs::remove_dir_all(&data_dir).ok();
    let mut command = lodiwelfare(&data_dir, free_port());
    command.env("LODIWELFARE__SERVER__LISTEN_ADRESS", "127.0.0.1:1");
    let (code, stderr) = run_to_end(command);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("listen_adress"), "{stderr}");
    assert!(
        !data_dir.exists(),
        "a refused configuration creates nothing"
    );

    // A data directory that cannot be created (under a file): a start failure (1).
    let file = scratch("a-file");
    std::fs::write(&file, "not a directory").expect("file");
    let (code, stderr) = run_to_end(lodiwelfare(&file.join("data"), free_port()));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("data_dir"), "{stderr}");
    std::fs::remove_file(&file).ok();

    // A port in use: a start failure (1) naming the address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let data_dir = scratch("port");
    let (code, stderr) = run_to_end(lodiwelfare(&data_dir, port));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&port.to_string()), "{stderr}");
    std::fs::remove_dir_all(&data_dir).ok();

    // Development tokens on an address other machines reach: refused (1), unless told.
    let data_dir = scratch("network");
    let mut command = lodiwelfare(&data_dir, free_port());
    command.env("LODIWELFARE__SERVER__LISTEN_ADDR", "0.0.0.0:0");
    let (code, stderr) = run_to_end(command);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
    std::fs::remove_dir_all(&data_dir).ok();

    // A token for a role that does not exist, or without a subject: usage errors (2).
    for args in [
        &["token", "--role", "mayor", "--subject", "x"][..],
        &["token", "--role", "citizen"][..],
        &["--role", "citizen", "--subject", "x"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
            .args(args)
            .output()
            .expect("token");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }

    // And the version, for the record.
    let (code, stdout) = {
        let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
            .arg("--version")
            .output()
            .expect("version");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("lodiwelfare "), "{stdout}");
}

/// Reads the welcome a first start prints on standard output (logs interleaved), until the
/// last of the three commands, or fails after a while.
fn welcome(child: &mut Child) -> Vec<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout piped");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut welcome = Vec::new();
    while welcome
        .iter()
        .filter(|l: &&String| l.trim_start().starts_with("grpcurl"))
        .count()
        < 5
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = seen
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no welcome printed; saw {welcome:#?}"));
        welcome.push(line);
    }
    welcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_loads_the_demo_and_its_printed_commands_work_with_grpcurl() {
    let data_dir = scratch("demo");
    std::fs::remove_dir_all(&data_dir).ok();
    let port = free_port();
    let mut command = lodiwelfare_with_demo(&data_dir, port);
    command.stdout(Stdio::piped());
    let mut child = command.spawn().expect("start lodiwelfare");
    let printed = welcome(&mut child);
    let serving = Serving {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let summary = printed
        .iter()
        .find(|l| l.starts_with("LodiWelfare is serving"))
        .expect("a summary line");
    assert!(
        summary.contains(&format!(
            "35 providers, {} listings in 60 comuni",
            demo::listings()
        )),
        "{summary}"
    );
    let tokens: Vec<(String, String)> = printed
        .iter()
        .filter_map(|l| l.trim().split_once('='))
        .filter(|(name, _)| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(|(name, token)| (name.to_owned(), token.to_owned()))
        .collect();
    assert_eq!(
        tokens.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "CITIZEN",
            "EMPLOYEE",
            "PROVIDER",
            "CURATOR",
            "COMPANY_ADMIN"
        ]
    );
    // Each printed command, run as printed by a shell with the printed variables, with the real
    // grpcurl (scripts/test installs it).
    let commands: Vec<&String> = printed
        .iter()
        .filter(|l| l.trim_start().starts_with("grpcurl"))
        .collect();
    let mut answers: Vec<String> = Vec::new();
    let mut booking_id = String::new();
    for command in &commands {
        let output = Command::new("sh")
            .arg("-c")
            .arg(command.trim())
            .envs(tokens.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .env("BOOKING_ID", &booking_id)
            .output()
            .expect("sh");
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{command}\n{out}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if booking_id.is_empty() && out.contains("STATE_HELD") {
            // What the printed tour asks the reader to export.
            let answer: serde_json::Value = serde_json::from_str(&out).expect("JSON");
            booking_id = answer["id"].as_str().expect("an id").to_owned();
        }
        answers.push(out);
    }
    assert!(answers[0].contains("\"hits\""), "search: {}", answers[0]);
    assert!(answers[1].contains("STATE_HELD"), "booking: {}", answers[1]);
    assert!(
        answers[2].contains("STATE_CONFIRMED"),
        "confirm: {}",
        answers[2]
    );
    assert!(answers[3].contains("\"pending\""), "wallet: {}", answers[3]);
    assert!(
        answers[4].contains("KIND_HOLD"),
        "statement: {}",
        answers[4]
    );
    assert_eq!(serving.interrupt().code(), Some(0));

    // A restart on the same directory adds no second demo and prints no tokens again.
    let port = free_port();
    let mut command = lodiwelfare_with_demo(&data_dir, port);
    command.stdout(Stdio::piped());
    let again = Serving::started(command, port).await;
    let mut catalog = CatalogServiceClient::new(again.channel().await);
    let mut count = 0;
    let mut page_token = String::new();
    loop {
        let page = catalog
            .list_listings(welfare_proto::catalog::ListListingsRequest {
                page_size: 100,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("listings")
            .into_inner();
        count += page.listings.len();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(count, demo::listings(), "the demo was not loaded twice");
    assert_eq!(again.interrupt().code(), Some(0));

    // The public catalogue out as HSDS 3.0 JSON Lines: one service per listing.
    let out = data_dir.join("export.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["export-hsds", "--out"])
        .arg(&out)
        .output()
        .expect("export-hsds");
    assert!(output.status.success(), "{output:?}");
    let exported = std::fs::read_to_string(&out).expect("the export");
    let services = exported
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .filter(|record| record["record_type"] == "service")
        .count();
    assert_eq!(services, demo::listings());
    std::fs::remove_dir_all(&data_dir).ok();
}

#[test]
fn migrate_creates_the_three_databases_and_exits() {
    let data_dir = scratch("migrate");
    std::fs::remove_dir_all(&data_dir).ok();
    let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(output.status.success(), "{output:?}");
    for file in ["catalog.db", "wallet.db", "booking.db"] {
        assert!(data_dir.join(file).exists(), "{file}");
    }
    // Reindexing the embedded index is refused with the reason (it is rebuilt at every start).
    let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("reindex")
        .output()
        .expect("reindex");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("rebuilt at every start"));
    // Nothing to export from an empty catalogue elsewhere: a clear refusal.
    let empty = scratch("no-catalogue");
    let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
        .arg("--data-dir")
        .arg(&empty)
        .arg("export-hsds")
        .output()
        .expect("export-hsds");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no catalogue"));
    std::fs::remove_dir_all(&data_dir).ok();
}

/// One process serves a data directory: a second `serve`, or a `migrate`, on the directory a
/// running process holds ends with exit 1 naming that process, and changes nothing; once the
/// first has stopped, the directory is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_use_is_refused_to_a_second_process() {
    let data_dir = scratch("in-use");
    std::fs::remove_dir_all(&data_dir).ok();
    let first = Serving::start(&data_dir).await;
    let pid = first.child.id().to_string();
    for args in [&["serve", "--no-demo"][..], &["migrate"][..]] {
        let mut second = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"));
        second.arg("--data-dir").arg(&data_dir).args(args).env(
            "LODIWELFARE__SERVER__LISTEN_ADDR",
            format!("127.0.0.1:{}", free_port()),
        );
        let (code, stderr) = run_to_end(second);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("in use by another lodiwelfare (process {pid})")),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(first.interrupt().code(), Some(0));
    let mut again = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"));
    again.arg("--data-dir").arg(&data_dir).arg("migrate");
    let (code, stderr) = run_to_end(again);
    assert_eq!(code, Some(0), "free once the first stopped: {stderr}");
    std::fs::remove_dir_all(&data_dir).ok();
}

/// `check-config` refuses what `serve` would refuse at start — plaintext beyond loopback, a
/// certificate that cannot be read — naming it, and says how it would listen otherwise.
#[tokio::test]
async fn check_config_refuses_what_serve_would_and_names_the_transport() {
    use welfare_runtime::testing::pki::{TestPki, Usage};
    let dir = scratch("check-config");
    std::fs::create_dir_all(&dir).expect("dir");
    let check = |vars: &[(&str, String)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"));
        command.arg("--data-dir").arg(&dir).arg("check-config");
        for (name, value) in vars {
            command.env(name, value);
        }
        let output = command.output().expect("check-config");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (code, said) = check(&[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("(plaintext)"), "{said}");

    let everywhere = (
        "LODIWELFARE__SERVER__LISTEN_ADDR",
        "0.0.0.0:50051".to_owned(),
    );
    let (code, said) = check(std::slice::from_ref(&everywhere));
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("server.tls"), "{said}");

    let pki = TestPki::new(&dir.join("pki"), "ambito");
    let issued = pki.issue("server", &["localhost"], Usage::Server);
    let tls = |cert: &std::path::Path| {
        vec![
            everywhere.clone(),
            (
                "LODIWELFARE__SERVER__TLS__CERT_FILE",
                cert.display().to_string(),
            ),
            (
                "LODIWELFARE__SERVER__TLS__KEY_FILE",
                issued.key_file.display().to_string(),
            ),
        ]
    };
    let (code, said) = check(&tls(&issued.cert_file));
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("(TLS)"), "{said}");
    let missing = dir.join("pki/expired.pem");
    let (code, said) = check(&tls(&missing));
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("expired.pem"), "{said}");
    std::fs::remove_dir_all(&dir).ok();
}
