//! `ExportCatalog` on each backend: the published catalogue as Open Referral HSDS 3.0 records,
//! each valid against the official schema of its type (`tests/hsds-3.0`), in dependency order,
//! with every reference resolved and nothing that citizens may not see.
#![allow(clippy::indexing_slicing)]

mod support;

use std::collections::HashSet;
use std::path::Path;

use catalog_svc::store::SqlStore;
use serde_json::{Value, json};
use support::json_schema::Schemas;
use support::*;
use welfare_proto::catalog::*;

fn schemas() -> Schemas {
    Schemas::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hsds-3.0"))
}

async fn export(
    client: &mut welfare_proto::catalog::catalog_service_client::CatalogServiceClient<
        tonic::transport::Channel,
    >,
) -> Vec<(String, Value)> {
    let mut stream = client
        .export_catalog(ExportCatalogRequest {})
        .await
        .expect("export")
        .into_inner();
    let mut records = Vec::new();
    while let Some(chunk) = stream.message().await.expect("chunk") {
        let value: Value = serde_json::from_slice(&chunk.json).expect("JSON");
        records.push((chunk.record_type, value));
    }
    records
}

async fn the_export_is_valid_hsds_and_only_public(store: SqlStore) {
    let mut world = world(store).await;
    let home = world.publish(home_care()).await;
    let pool = world.publish(swimming()).await;
    let line = world.publish(listening_line()).await;
    let draft = world.draft(home_care()).await;
    // A second provider, still pending: its published-looking listing must not be exported.
    let pending = register(
        &mut world.server.client,
        "Associazione In Attesa",
        VAT_NUMBERS[1],
    )
    .await;

    let records = export(&mut world.server.client).await;
    let mut schemas = schemas();
    let order = ["taxonomy_term", "organization", "location", "service"];
    let mut last_rank = 0;
    let mut ids: HashSet<String> = HashSet::new();
    let mut services = Vec::new();
    for (record_type, value) in &records {
        let rank = order
            .iter()
            .position(|t| t == record_type)
            .unwrap_or_else(|| panic!("unknown record type {record_type}"));
        assert!(rank >= last_rank, "{record_type} came after a later type");
        last_rank = rank;
        let errors = schemas.validate(&format!("{record_type}.json"), value);
        assert!(errors.is_empty(), "{record_type} {value}: {errors:#?}");
        let id = value["id"].as_str().expect("id").to_owned();
        assert!(ids.insert(id.clone()), "duplicate id {id}");
        // Every reference points at a record already exported.
        for key in ["parent_id", "organization_id"] {
            if let Some(target) = value.get(key).and_then(Value::as_str) {
                assert!(
                    ids.contains(target),
                    "{record_type}.{key} {target} unresolved"
                );
            }
        }
        if record_type == "service" {
            for link in value["service_at_locations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let location = link["location_id"].as_str().expect("location id");
                assert!(ids.contains(location), "location {location} unresolved");
            }
            for attribute in value["attributes"].as_array().expect("attributes") {
                let term = attribute["taxonomy_term_id"].as_str().expect("term");
                assert!(ids.contains(term), "taxonomy term {term} unresolved");
            }
            services.push(value.clone());
        }
    }
    let count = |t: &str| records.iter().filter(|(rt, _)| rt == t).count();
    assert_eq!(count("taxonomy_term"), 6 + 24);
    assert_eq!(count("organization"), 1, "only the approved provider");
    assert_eq!(count("location"), 1, "only the pool has a venue");
    let exported: HashSet<&str> = services
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        exported,
        HashSet::from([home.id.as_str(), pool.id.as_str(), line.id.as_str()])
    );
    assert!(!ids.contains(&draft.id));
    assert!(!ids.contains(&pending.id));

    let pool_record = services
        .iter()
        .find(|s| s["id"] == json!(pool.id))
        .expect("pool");
    assert_eq!(pool_record["minimum_age"], json!(3));
    assert_eq!(pool_record["maximum_age"], json!(10));
    assert_eq!(pool_record["cost_options"][0]["amount"], json!(12.5));
    assert_eq!(pool_record["schedules"][0]["byday"], json!("SA"));
    assert_eq!(pool_record["schedules"][0]["closes_at"], json!("11:30"));
    let home_record = services
        .iter()
        .find(|s| s["id"] == json!(home.id))
        .expect("home care");
    assert_eq!(
        home_record["cost_options"].as_array().expect("bands").len(),
        3
    );
    assert_eq!(home_record["service_areas"][1]["name"], json!("Codogno"));
    assert_eq!(
        home_record["eligibility_description"],
        json!("Residenza in un comune dell'Ambito di Lodi; Età di almeno 65 anni")
    );

    // The same catalogue exports the same document.
    let again = export(&mut world.server.client).await;
    assert_eq!(records, again);

    // Stale listings leave the export.
    world.server.clock.advance_days(181);
    let stale = export(&mut world.server.client).await;
    assert_eq!(stale.iter().filter(|(t, _)| t == "service").count(), 0);
}

#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    let mut schemas = schemas();
    let good =
        json!({"id": "0190f0e8-0000-7000-8000-000000000001", "name": "x", "status": "active"});
    assert!(schemas.validate("service.json", &good).is_empty());
    let cases = [
        json!({"name": "x", "status": "active"}),
        json!({"id": "not-a-uuid", "name": "x", "status": "active"}),
        json!({"id": "0190f0e8-0000-7000-8000-000000000001", "name": "x", "status": "open"}),
        json!({"id": "0190f0e8-0000-7000-8000-000000000001", "name": "x", "status": "active",
               "minimum_age": "3"}),
        json!({"id": "0190f0e8-0000-7000-8000-000000000001", "name": "x", "status": "active",
               "schedules": [{"id": "0190f0e8-0000-7000-8000-000000000002", "freq": "DAILY"}]}),
        json!({"id": "0190f0e8-0000-7000-8000-000000000001", "name": "x", "status": "active",
               "service_at_locations": [{"id": "0190f0e8-0000-7000-8000-000000000003",
                   "location": {"id": "0190f0e8-0000-7000-8000-000000000004"}}]}),
    ];
    for case in cases {
        assert!(
            !schemas.validate("service.json", &case).is_empty(),
            "{case}"
        );
    }
}

welfare_storage::on_every_backend!(support::open; the_export_is_valid_hsds_and_only_public);
