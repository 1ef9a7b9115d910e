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
    assert_eq!(
        count("taxonomy_term"),
        6 + welfare_core::category::Subcategory::all().len()
            + welfare_core::need::Situation::all().len()
            + 6,
        "categories, subcategories, situations, facts"
    );
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
    // What HSDS has no field for travels as LodiWelfare facts, the core's JSON in the value.
    let fact = |code: &str| -> Value {
        let term = catalog_svc::hsds::Fact::ALL
            .into_iter()
            .find(|f| f.code() == code)
            .expect("fact")
            .term_id();
        let attribute = pool_record["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .find(|a| a["taxonomy_term_id"] == json!(term))
            .unwrap_or_else(|| panic!("no {code} attribute"));
        serde_json::from_str(attribute["value"].as_str().expect("value")).expect("JSON")
    };
    assert_eq!(fact("booking_mode")["mode"], json!("slots"));
    assert_eq!(fact("delivery"), json!(["at_venue"]));
    assert_eq!(fact("pricing")["model"]["unit"], json!("session"));
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

/// A catalogue another directory published: HSDS's standard fields only, its own taxonomy.
fn foreign_catalogue() -> String {
    let org = "6b1f0a3c-5d6e-4f70-8a9b-0c1d2e3f4a51";
    let records = [
        json!({"record_type": "taxonomy_term", "record": {"id": "7e9c0d1a-0000-4000-8000-000000000001",
            "name": "Assistenza domiciliare", "code": "SAD-01"}}),
        json!({"record_type": "program", "record": {"id": "7e9c0d1a-0000-4000-8000-000000000002",
            "name": "Piano di zona"}}),
        json!({"record_type": "organization", "record": {"id": org,
            "name": "Cooperativa Il Ponte", "legal_status": "Cooperativa sociale",
            "tax_id": VAT_NUMBERS[2], "email": "info@ilponte.example.org",
            "phones": [{"id": "7e9c0d1a-0000-4000-8000-000000000003", "number": "0377 123456"}]}}),
        json!({"record_type": "organization", "record": {"id": "6b1f0a3c-5d6e-4f70-8a9b-0c1d2e3f4a52",
            "name": "Associazione senza codice", "legal_status": "Associazione"}}),
        json!({"record_type": "location", "record": {"id": "7e9c0d1a-0000-4000-8000-000000000004",
            "name": "Sede", "latitude": 45.1605, "longitude": 9.7046,
            "addresses": [{"id": "7e9c0d1a-0000-4000-8000-000000000005", "address_1": "Via Roma 1",
                "city": "CODOGNO", "postal_code": "26845", "country": "IT"}]}}),
        json!({"record_type": "service", "record": {"id": "5a0e9f8d-1c2b-4a3f-9e8d-7c6b5a4f3e21",
            "organization_id": org, "name": "Assistenza domiciliare per anziani",
            "description": "Aiuto a casa per la cura della persona, due volte a settimana.",
            "status": "active", "minimum_age": 65,
            "eligibility_description": "Persone sole con invalidità certificata",
            "cost_options": [{"id": "7e9c0d1a-0000-4000-8000-000000000006",
                "option": "Quota oraria, per ora di servizio", "amount": 18.5, "currency": "EUR"}],
            "schedules": [{"id": "7e9c0d1a-0000-4000-8000-000000000007", "freq": "WEEKLY",
                "byday": "MO,WE", "opens_at": "09:00", "closes_at": "12:30"}],
            "service_areas": [{"id": "7e9c0d1a-0000-4000-8000-000000000008", "name": "Codogno"}],
            "service_at_locations": [{"id": "7e9c0d1a-0000-4000-8000-000000000009",
                "location_id": "7e9c0d1a-0000-4000-8000-000000000004"}],
            "attributes": [{"id": "7e9c0d1a-0000-4000-8000-00000000000a",
                "taxonomy_term_id": "7e9c0d1a-0000-4000-8000-000000000001"}]}}),
        json!({"record_type": "service", "record": {"id": "5a0e9f8d-1c2b-4a3f-9e8d-7c6b5a4f3e22",
            "organization_id": org, "name": "Trasporto sociale",
            "description": "Accompagnamento in auto alle visite mediche e alle terapie.",
            "status": "active"}}),
    ];
    records.iter().map(|r| format!("{r}\n")).collect()
}

async fn a_foreign_catalogue_is_read_from_its_standard_fields(store: SqlStore) {
    use catalog_svc::hsds::import;
    use catalog_svc::store::CatalogStore;
    use welfare_core::ids::ListingId;
    use welfare_core::listing::{BookingMode, Delivery, ListingStatus};
    use welfare_core::pricing::{PriceModel, Unit};
    use welfare_core::time::Timestamp;

    let territory = welfare_core::territory::Territory::lodi();
    let now = Timestamp::from_unix_seconds(1_780_000_000);
    let document = import::read(foreign_catalogue().as_bytes()).expect("HSDS");
    assert_eq!(document.ignored, 1, "the program is counted and left");
    let plan = import::plan(&store, &territory, &document, now)
        .await
        .expect("plan");
    let reasons: Vec<String> = plan.refused.iter().map(ToString::to_string).collect();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(reasons[0].contains("line 4: organization") && reasons[0].contains("no tax_id"));
    assert!(
        reasons[1].contains("line 7: service")
            && reasons[1].contains("how the service reaches people is unknown"),
        "{}",
        reasons[1]
    );
    assert_eq!((plan.providers.len(), plan.listings.len()), (1, 1));
    import::apply(&store, &plan).await.expect("apply");

    let id = ListingId::parse("5a0e9f8d-1c2b-4a3f-9e8d-7c6b5a4f3e21").expect("id");
    let (record, provider_status) = store.listing(&id).await.expect("read").expect("imported");
    assert_eq!(
        provider_status,
        welfare_core::provider::ProviderStatus::Pending
    );
    let listing = &record.listing;
    assert_eq!(listing.status, ListingStatus::Submitted);
    let content = &listing.content;
    assert_eq!(content.subcategory, "sad");
    assert_eq!(content.delivery, vec![Delivery::AtVenue]);
    assert_eq!(content.booking_mode, BookingMode::RequestAndConfirm);
    assert_eq!(
        content.pricing.model(),
        &PriceModel::Fixed {
            unit: Unit::Hour,
            amount: welfare_core::Money::from_cents(1_850).expect("money")
        }
    );
    assert_eq!(content.schedule.len(), 2);
    assert_eq!(content.schedule[1].closes_minute, 12 * 60 + 30);
    let venue = content.venue.as_ref().expect("venue");
    assert_eq!(
        venue.comune.as_str(),
        "098019",
        "Codogno, named in capitals"
    );
    assert_eq!(content.service_area.len(), 1);
    assert_eq!(content.eligibility.rules().len(), 1, "the minimum age");
    assert!(
        content
            .description
            .ends_with("Requisiti (da verificare): Persone sole con invalidità certificata"),
        "{}",
        content.description
    );
    assert_eq!(content.languages, vec!["it".to_owned()]);

    // Planned again, the catalogue's records are counted as present, not imported twice.
    let again = import::plan(&store, &territory, &document, now)
        .await
        .expect("plan");
    assert_eq!(
        (
            again.providers.len(),
            again.listings.len(),
            again.already_present
        ),
        (0, 0, 2)
    );
}

async fn an_import_is_written_whole_or_not_at_all(store: SqlStore) {
    use catalog_svc::hsds::import;
    use catalog_svc::store::{CatalogStore, StoreError};

    let territory = welfare_core::territory::Territory::lodi();
    let now = welfare_core::time::Timestamp::from_unix_seconds(1_780_000_000);
    let document = import::read(foreign_catalogue().as_bytes()).expect("HSDS");
    let plan = import::plan(&store, &territory, &document, now)
        .await
        .expect("plan");
    // Between the plan and its writing, the same tax code is registered through the API.
    let mut world = world(store.clone()).await;
    register(&mut world.server.client, "Arrivata prima", VAT_NUMBERS[2]).await;
    let error = import::apply(&store, &plan).await.expect_err("refused");
    assert!(matches!(error, StoreError::TaxCodeTaken(_)), "{error}");
    let id =
        welfare_core::ids::ListingId::parse("5a0e9f8d-1c2b-4a3f-9e8d-7c6b5a4f3e21").expect("id");
    assert!(
        store.listing(&id).await.expect("read").is_none(),
        "the listing planned after the refused provider is not written either"
    );
}

welfare_storage::on_every_backend!(
    support::open;
    the_export_is_valid_hsds_and_only_public,
    a_foreign_catalogue_is_read_from_its_standard_fields,
    an_import_is_written_whole_or_not_at_all
);

/// An export that outlives its deadline ends with `DEADLINE_EXCEEDED`, not silently and not
/// never: the call's own timeout only bounds its first answer. Here the reader stops reading
/// until the deadline has passed.
#[tokio::test]
async fn an_export_past_its_deadline_ends_with_deadline_exceeded() {
    use tokio_stream::StreamExt;
    let mut world = world(sqlite().await).await;
    for n in 0..12 {
        world
            .publish(Listing {
                title: format!("Corso di nuoto {n}"),
                ..swimming()
            })
            .await;
    }
    let export = |deadline| {
        catalog_svc::hsds::export::export_within(
            world.server.store.clone(),
            std::sync::Arc::new(welfare_core::territory::Territory::lodi()),
            world.server.clock.now(),
            deadline,
        )
    };
    let whole = export(catalog_svc::hsds::export::EXPORT_DEADLINE)
        .collect::<Vec<_>>()
        .await;
    assert!(
        whole.iter().all(Result::is_ok),
        "within it, the whole catalogue"
    );
    assert!(
        whole.len() > 64,
        "more than the stream buffers: {}",
        whole.len()
    );
    let mut slow = export(std::time::Duration::from_millis(100));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut last = None;
    let mut read = 0;
    while let Some(item) = slow.next().await {
        read += 1;
        last = Some(item);
    }
    let status = last.expect("an answer").expect_err("cut off");
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(read < whole.len() + 1, "cut off before the end");
}
