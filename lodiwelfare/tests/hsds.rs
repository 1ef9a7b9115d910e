//! `export-hsds` and `import-hsds` as an Ambito migrating its catalogue runs them, on real
//! processes: the demo Ambito's export imported into a new data directory (providers awaiting
//! vetting, listings awaiting review), curated there, and exported again gives the same public
//! catalogue; a second import adds nothing; a malformed file and refused records are named with
//! their line and reason and change nothing, unless `--skip-refused` imports the others.
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{self as cpb};
use welfare_runtime::testing::{seed, with_bearer};

mod support;
use lodiwelfare::demo;
use support::*;

fn lodiwelfare_in(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("LODIWELFARE__SERVER__LISTEN_ADDR", "127.0.0.1:0");
    command
}

fn run(data_dir: &Path, args: &[&str]) -> Output {
    lodiwelfare_in(data_dir)
        .args(args)
        .output()
        .expect("run lodiwelfare")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A data directory with the demo Ambito, and its catalogue exported to a file.
fn demo_export(name: &str) -> (PathBuf, PathBuf) {
    let source = scratch(name);
    std::fs::remove_dir_all(&source).ok();
    let loaded = run(&source, &["demo"]);
    assert!(loaded.status.success(), "{}", stderr(&loaded));
    let file = source.join("catalogue.jsonl");
    let exported = run(
        &source,
        &["export-hsds", "--out", file.to_str().expect("utf-8")],
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    (source, file)
}

fn records(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .expect("read the export")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn count(records: &[Value], record_type: &str) -> usize {
    records
        .iter()
        .filter(|r| r["record_type"] == record_type)
        .count()
}

/// The catalogue as a document, without the times of its curation (when each listing was
/// last changed and verified), which a new directory's curation sets anew.
fn without_curation_times(mut records: Vec<Value>) -> Vec<Value> {
    for record in &mut records {
        if let Some(service) = record["record"].as_object_mut() {
            service.remove("last_modified");
            service.remove("assured_date");
        }
    }
    records
}

fn write_lines(path: &Path, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).expect("write");
}

/// Every id a list answers, over all its pages.
async fn all_ids<F, Fut>(mut page: F) -> Vec<String>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = (Vec<String>, String)>,
{
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let (found, next) = page(token).await;
        ids.extend(found);
        if next.is_empty() {
            return ids;
        }
        token = next;
    }
}

/// As the Ufficio di Piano: approves every pending provider and every submitted listing.
async fn curate_everything(data_dir: &Path) {
    // One curator approving a whole catalogue in a second: above a person's rate limit.
    let port = free_port();
    let mut command = lodiwelfare(data_dir, port);
    command
        .env("LODIWELFARE__LIMITS__RATE_LIMIT_PER_SECOND", "100000")
        .env("LODIWELFARE__LIMITS__RATE_LIMIT_BURST", "100000");
    let serving = Serving::started(command, port).await;
    let curator = seed::curator(&secret(data_dir));
    let client = CatalogServiceClient::new(serving.channel().await);
    let providers = all_ids(|page_token| {
        let (mut client, curator) = (client.clone(), curator.clone());
        async move {
            let answer = client
                .list_providers(with_bearer(
                    cpb::ListProvidersRequest {
                        page_size: 100,
                        page_token,
                        state: cpb::provider::State::Pending.into(),
                    },
                    &curator,
                ))
                .await
                .expect("list pending providers")
                .into_inner();
            (
                answer.providers.into_iter().map(|p| p.id).collect(),
                answer.next_page_token,
            )
        }
    })
    .await;
    assert_eq!(
        providers.len(),
        35,
        "every imported provider awaits vetting"
    );
    let mut client = client;
    for id in &providers {
        client
            .approve_provider(with_bearer(
                cpb::ApproveProviderRequest {
                    id: id.clone(),
                    request_id: format!("approve-{id}"),
                    etag: String::new(),
                },
                &curator,
            ))
            .await
            .expect("approve provider");
    }
    let listings = all_ids(|page_token| {
        let (mut client, curator) = (client.clone(), curator.clone());
        async move {
            let answer = client
                .list_listings(with_bearer(
                    cpb::ListListingsRequest {
                        page_size: 100,
                        page_token,
                        state: cpb::listing::State::Submitted.into(),
                        ..Default::default()
                    },
                    &curator,
                ))
                .await
                .expect("list submitted listings")
                .into_inner();
            (
                answer.listings.into_iter().map(|l| l.id).collect(),
                answer.next_page_token,
            )
        }
    })
    .await;
    assert_eq!(
        listings.len(),
        demo::listings(),
        "every imported listing awaits review"
    );
    for id in &listings {
        client
            .approve_listing(with_bearer(
                cpb::ApproveListingRequest {
                    id: id.clone(),
                    etag: String::new(),
                    request_id: format!("approve-{id}"),
                },
                &curator,
            ))
            .await
            .expect("approve listing");
    }
    assert_eq!(serving.interrupt().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_export_imported_and_curated_exports_the_same_public_catalogue() {
    let (source, file) = demo_export("hsds-source");
    let exported = records(&file);
    let (organizations, services) = (
        count(&exported, "organization"),
        count(&exported, "service"),
    );
    assert_eq!(
        (organizations, services),
        (demo::PROVIDERS, demo::listings())
    );

    let target = scratch("hsds-target");
    std::fs::remove_dir_all(&target).ok();
    let path = file.to_str().expect("utf-8");
    let imported = run(&target, &["import-hsds", path]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stdout(&imported).contains(&format!(
            "35 providers awaiting vetting, {} listings awaiting review; 0 already in the \
             catalogue; 0 refused",
            demo::listings()
        )),
        "{}",
        stdout(&imported)
    );
    // Nothing is public before the Ufficio di Piano has vetted it.
    let before = target.join("before.jsonl");
    let unvetted = run(
        &target,
        &["export-hsds", "--out", before.to_str().expect("utf-8")],
    );
    assert!(unvetted.status.success(), "{}", stderr(&unvetted));
    let unvetted = records(&before);
    assert_eq!(
        (
            count(&unvetted, "organization"),
            count(&unvetted, "service")
        ),
        (0, 0)
    );

    // The same file again adds nothing.
    let again = run(&target, &["import-hsds", path]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!(
            "0 providers awaiting vetting, 0 listings awaiting review; {} already in the \
             catalogue",
            demo::PROVIDERS + demo::listings()
        )),
        "{}",
        stdout(&again)
    );

    curate_everything(&target).await;
    let after = target.join("after.jsonl");
    let round = run(
        &target,
        &["export-hsds", "--out", after.to_str().expect("utf-8")],
    );
    assert!(round.status.success(), "{}", stderr(&round));
    let round_trip = without_curation_times(records(&after));
    let original = without_curation_times(exported);
    assert_eq!(round_trip.len(), original.len());
    for (got, want) in round_trip.iter().zip(&original) {
        assert_eq!(got, want, "the record differs after the round trip");
    }
    std::fs::remove_dir_all(&source).ok();
    std::fs::remove_dir_all(&target).ok();
}

#[test]
fn a_malformed_file_or_refused_records_change_nothing_unless_told_to_skip_them() {
    let (source, file) = demo_export("hsds-refusals");
    let exported = records(&file);
    let target = scratch("hsds-refusals-target");
    std::fs::remove_dir_all(&target).ok();

    // A line that is not JSON: the file is refused whole, naming the line; nothing created.
    let malformed = source.join("malformed.jsonl");
    let mut text: Vec<String> = exported.iter().map(ToString::to_string).collect();
    text[40].truncate(25);
    std::fs::write(&malformed, text.join("\n")).expect("write");
    let refused = run(
        &target,
        &["import-hsds", malformed.to_str().expect("utf-8")],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("line 41: not JSON") && message.contains("nothing imported"),
        "{message}"
    );
    assert!(!target.exists(), "a refused file creates nothing");
    let missing = run(&target, &["import-hsds", "/nonexistent/catalogue.jsonl"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("cannot read /nonexistent/catalogue.jsonl"));

    // Three records HSDS allows but LodiWelfare cannot take: an organization without a valid
    // tax id (and so its services), a service whose tariff is broken, one in another currency.
    let mut edited = exported.clone();
    let first_org = edited
        .iter()
        .position(|r| r["record_type"] == "organization")
        .expect("an organization");
    edited[first_org]["record"]["tax_id"] = Value::from("12345");
    let org_id = edited[first_org]["record"]["id"].clone();
    let orphaned = edited
        .iter()
        .filter(|r| r["record_type"] == "service" && r["record"]["organization_id"] == org_id)
        .count();
    assert!(orphaned > 0, "the first organization has services");
    let others: Vec<usize> = edited
        .iter()
        .enumerate()
        .filter(|(_, r)| r["record_type"] == "service" && r["record"]["organization_id"] != org_id)
        .map(|(i, _)| i)
        .take(2)
        .collect();
    for attribute in edited[others[0]]["record"]["attributes"]
        .as_array_mut()
        .expect("attributes")
    {
        if attribute["value"]
            .as_str()
            .is_some_and(|v| v.contains("\"model\""))
        {
            attribute["value"] = Value::from("{\"model\":\"fixed\"}");
        }
    }
    edited[others[1]]["record"]["attributes"] = Value::Array(
        edited[others[1]]["record"]["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .filter(|a| !a["value"].as_str().is_some_and(|v| v.contains("\"model\"")))
            .cloned()
            .collect(),
    );
    edited[others[1]]["record"]["cost_options"] = serde_json::json!([{"id": "0190f0e8-0000-7000-8000-00000000000a", "option": "per ora",
            "amount": 12, "currency": "CHF"}]);
    let partial = source.join("partial.jsonl");
    write_lines(&partial, &edited);
    let path = partial.to_str().expect("utf-8");
    let refused = run(&target, &["import-hsds", path]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    let refusals = 1 + orphaned + 2;
    assert_eq!(
        message
            .lines()
            .filter(|l| l.starts_with("refused: "))
            .count(),
        refusals,
        "{message}"
    );
    for expected in [
        format!(
            "line {}: organization {}",
            first_org + 1,
            org_id.as_str().unwrap_or("")
        ),
        "tax_id".to_owned(),
        format!(
            "its organization {} was refused",
            org_id.as_str().unwrap_or("")
        ),
        format!("line {}: service", others[0] + 1),
        "attribute pricing".to_owned(),
        format!("line {}: service", others[1] + 1),
        "only EUR".to_owned(),
        "nothing imported".to_owned(),
        "--skip-refused".to_owned(),
    ] {
        assert!(message.contains(&expected), "{expected:?} in {message}");
    }
    assert!(!target.exists(), "refused records create nothing");

    // Told to, it imports the others and lists the same refusals.
    let skipped = run(&target, &["import-hsds", path, "--skip-refused"]);
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert_eq!(
        stderr(&skipped)
            .lines()
            .filter(|l| l.starts_with("refused: "))
            .count(),
        refusals
    );
    let summary = stdout(&skipped);
    assert!(
        summary.contains(&format!(
            "34 providers awaiting vetting, {} listings awaiting review; 0 already in the \
             catalogue; {refusals} refused",
            demo::listings() - orphaned - 2
        )),
        "{summary}"
    );

    // The corrected file then adds exactly what was refused.
    let complete = run(&target, &["import-hsds", file.to_str().expect("utf-8")]);
    assert!(complete.status.success(), "{}", stderr(&complete));
    assert!(
        stdout(&complete).contains(&format!(
            "1 providers awaiting vetting, {} listings awaiting review; {} already in the \
             catalogue; 0 refused",
            orphaned + 2,
            34 + demo::listings() - orphaned - 2
        )),
        "{}",
        stdout(&complete)
    );
    std::fs::remove_dir_all(&source).ok();
    std::fs::remove_dir_all(&target).ok();
}
