//! The store's conformance suite, run against SQLite and PostgreSQL: each change writes its row,
//! its recorded answer and one outbox row in one transaction; a refused change writes none of
//! them; concurrent changes from the same version let exactly one through; queries see exactly
//! what their visibility allows; stored values the domain refuses are reported, not defaulted.
#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::store::*;
use welfare_core::category::Category;
use welfare_core::eligibility::EligibilityRules;
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{BookingMode, Delivery, Listing, ListingContent, ListingStatus};
use welfare_core::pricing::Pricing;
use welfare_core::provider::{ProviderKind, ProviderStatus, TaxId};
use welfare_core::time::Timestamp;

fn at(day: i64) -> Timestamp {
    support::start().plus_seconds(day * 86_400)
}

fn provider(id: &str, vat: &str) -> ProviderRecord {
    ProviderRecord {
        id: ProviderId::parse(id).expect("id"),
        display_name: format!("Provider {id}"),
        kind: ProviderKind::CooperativaSociale,
        tax_id: TaxId::parse(vat).expect("vat"),
        contact_email: Some(welfare_core::contact::Email::parse("info@example.it").expect("email")),
        contact_phone: None,
        website_url: None,
        status: ProviderStatus::Pending,
        state_reason: String::new(),
        registered_by: "tester".to_owned(),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn content(title: &str, category: Category, subcategory: &str) -> ListingContent {
    ListingContent {
        title: title.to_owned(),
        description: String::new(),
        category,
        subcategory: subcategory.to_owned(),
        delivery: vec![Delivery::AtHome],
        service_area: Vec::new(),
        venue: None,
        schedule: Vec::new(),
        booking_mode: BookingMode::RequestAndConfirm,
        eligibility: EligibilityRules::open(),
        pricing: Pricing::free(),
        cancellation_policy: Default::default(),
        languages: vec!["it".to_owned()],
        accessibility: Vec::new(),
    }
}

fn listing(
    id: &str,
    provider: &str,
    status: ListingStatus,
    verified: Option<i64>,
) -> ListingRecord {
    ListingRecord {
        listing: Listing {
            id: ListingId::parse(id).expect("id"),
            provider_id: ProviderId::parse(provider).expect("id"),
            content: content(&format!("Servizio {id}"), Category::Sanitario, "adi"),
            status,
            verified_at: verified.map(at),
        },
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn change(request_id: &str, entity: &str) -> Change {
    Change {
        request: RecordedRequest {
            principal: "tester".to_owned(),
            request_id: request_id.to_owned(),
            method: "/test/Method".to_owned(),
            request: request_id.as_bytes().to_vec(),
            response: format!("answer to {request_id}").into_bytes(),
            created_at: at(0),
        },
        event: OutboxEvent {
            topic: Topic::Listing,
            entity_id: entity.to_owned(),
            kind: "listing.test".to_owned(),
            payload: "{}".to_owned(),
        },
    }
}

async fn outbox_len(store: &SqlStore) -> usize {
    store.outbox(0, 1_000_000).await.expect("outbox").len()
}

async fn a_change_writes_its_row_answer_and_outbox_row_together(store: SqlStore) {
    let p = provider("p1", support::VAT_NUMBERS[0]);
    store
        .create_provider(&p, &change("r1", "p1"))
        .await
        .expect("create");
    assert_eq!(store.provider(&p.id).await.expect("read"), Some(p.clone()));
    let recorded = store
        .recorded_request("tester", "r1")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(recorded.response, b"answer to r1");
    let outbox = store.outbox(0, 10).await.expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].event.entity_id, "p1");

    let mut approved = p.clone();
    approved.status = ProviderStatus::Approved;
    approved.version = 2;
    approved.updated_at = at(1);
    store
        .update_provider(&approved, &change("r2", "p1"))
        .await
        .expect("update");
    assert_eq!(store.provider(&p.id).await.expect("read"), Some(approved));
    let outbox = store.outbox(0, 10).await.expect("outbox");
    assert_eq!(outbox.len(), 2);
    assert!(outbox[1].seq > outbox[0].seq);
    assert_eq!(
        store.outbox(outbox[0].seq, 10).await.expect("after").len(),
        1
    );
}

async fn a_refused_change_writes_nothing(store: SqlStore) {
    let p = provider("p1", support::VAT_NUMBERS[0]);
    store
        .create_provider(&p, &change("r1", "p1"))
        .await
        .expect("create");

    // Same tax code: refused, and neither its request nor its outbox row remain.
    let twin = provider("p2", support::VAT_NUMBERS[0]);
    assert!(matches!(
        store.create_provider(&twin, &change("r2", "p2")).await,
        Err(StoreError::TaxCodeTaken(_))
    ));
    // A request id already recorded: refused, the provider is not created.
    let other = provider("p3", support::VAT_NUMBERS[1]);
    assert!(matches!(
        store.create_provider(&other, &change("r1", "p3")).await,
        Err(StoreError::RequestRecorded(_))
    ));
    // A stale version: refused.
    let mut stale = p.clone();
    stale.version = 5;
    stale.status = ProviderStatus::Approved;
    assert!(matches!(
        store.update_provider(&stale, &change("r4", "p1")).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(store.provider(&twin.id).await.expect("read"), None);
    assert_eq!(store.provider(&other.id).await.expect("read"), None);
    assert_eq!(store.provider(&p.id).await.expect("read"), Some(p));
    assert_eq!(
        store.recorded_request("tester", "r2").await.expect("read"),
        None
    );
    assert_eq!(
        store.recorded_request("tester", "r4").await.expect("read"),
        None
    );
    assert_eq!(outbox_len(&store).await, 1);
}

async fn concurrent_changes_from_one_version_let_exactly_one_through(store: SqlStore) {
    store
        .create_provider(
            &provider("p1", support::VAT_NUMBERS[0]),
            &change("r0", "p1"),
        )
        .await
        .expect("provider");
    let base = listing("l1", "p1", ListingStatus::Draft, None);
    store
        .create_listing(&base, &change("r1", "l1"))
        .await
        .expect("listing");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let mut next = base.clone();
        next.version = 2;
        next.listing.content.title = format!("Versione {i}");
        tasks.push(tokio::spawn(async move {
            store
                .update_listing(&next, &change(&format!("u{i}"), "l1"))
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => won += 1,
            Err(StoreError::VersionConflict { .. }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(won, 1);
    let (stored, _) = store
        .listing(&base.listing.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored.version, 2);
    assert_eq!(outbox_len(&store).await, 3);
}

async fn queries_see_exactly_what_their_visibility_allows(store: SqlStore) {
    let mut approved = provider("p1", support::VAT_NUMBERS[0]);
    approved.status = ProviderStatus::Approved;
    let mut suspended = provider("p2", support::VAT_NUMBERS[1]);
    suspended.status = ProviderStatus::Suspended;
    store
        .create_provider(&approved, &change("a", "p1"))
        .await
        .expect("p1");
    store
        .create_provider(&suspended, &change("b", "p2"))
        .await
        .expect("p2");
    let rows = [
        listing("l1", "p1", ListingStatus::Published, Some(10)),
        listing("l2", "p1", ListingStatus::Published, Some(-400)),
        listing("l3", "p1", ListingStatus::Draft, None),
        listing("l4", "p2", ListingStatus::Published, Some(10)),
        listing("l5", "p1", ListingStatus::Published, Some(20)),
        listing(
            "l6",
            "p1",
            ListingStatus::Suspended {
                reason: "Prezzi da aggiornare".to_owned(),
            },
            Some(10),
        ),
    ];
    for (i, row) in rows.iter().enumerate() {
        store
            .create_listing(row, &change(&format!("l{i}"), row.listing.id.as_str()))
            .await
            .expect("listing");
    }
    let ids = |records: Vec<ListingRecord>| -> Vec<String> {
        records
            .into_iter()
            .map(|r| r.listing.id.to_string())
            .collect()
    };
    let query = |visibility| ListingQuery {
        visibility,
        provider_id: None,
        status: None,
        category: None,
        after_id: None,
        limit: 100,
    };
    let fresh_since = at(0);
    assert_eq!(
        ids(store
            .listings(&query(Visibility::Public { fresh_since }))
            .await
            .expect("public")),
        ["l1", "l5"]
    );
    assert_eq!(
        ids(store
            .listings(&query(Visibility::Stale { fresh_since }))
            .await
            .expect("stale")),
        ["l2"]
    );
    assert_eq!(
        ids(store.listings(&query(Visibility::All)).await.expect("all")).len(),
        6
    );
    let mut by_provider = query(Visibility::All);
    by_provider.provider_id = Some(ProviderId::parse("p2").expect("id"));
    assert_eq!(ids(store.listings(&by_provider).await.expect("p2")), ["l4"]);
    let mut by_status = query(Visibility::All);
    by_status.status = Some("suspended");
    let suspended_rows = store.listings(&by_status).await.expect("suspended");
    assert_eq!(
        suspended_rows[0].listing.status,
        ListingStatus::Suspended {
            reason: "Prezzi da aggiornare".to_owned()
        }
    );
    let mut by_category = query(Visibility::All);
    by_category.category = Some(Category::Trasporto);
    assert!(store.listings(&by_category).await.expect("none").is_empty());
    // Keyset pages: after l1, two at a time.
    let mut page = query(Visibility::All);
    page.after_id = Some("l1".to_owned());
    page.limit = 2;
    assert_eq!(
        ids(store.listings(&page).await.expect("page")),
        ["l2", "l3"]
    );
    // A listing comes with its provider's status.
    let (_, status) = store
        .listing(&ListingId::parse("l4").expect("id"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(status, ProviderStatus::Suspended);
    // A batch by id: the rows the caller holds at their stored version come without content,
    // but every provider status is read now.
    let (l1, _) = store
        .listing(&ListingId::parse("l1").expect("id"))
        .await
        .expect("read")
        .expect("exists");
    let (l4, _) = store
        .listing(&ListingId::parse("l4").expect("id"))
        .await
        .expect("read")
        .expect("exists");
    let wanted = |id: &str, held_version: Option<i64>| Wanted {
        id: ListingId::parse(id).expect("id"),
        held_version,
    };
    let mut batch = store
        .listings_by_id(&[
            wanted("l4", Some(l4.version)),
            wanted("l1", None),
            wanted("l2", Some(l1.version + 7)),
            wanted("missing", Some(1)),
        ])
        .await
        .expect("batch");
    let id_of = |fetched: &Fetched| match fetched {
        Fetched::Held { id, .. } => id.to_string(),
        Fetched::Read(record, _) => record.listing.id.to_string(),
    };
    batch.sort_by_key(id_of);
    assert_eq!(batch.len(), 3, "{batch:?}");
    assert_eq!(
        batch[0],
        Fetched::Read(Box::new(l1), ProviderStatus::Approved)
    );
    assert!(
        matches!(&batch[1], Fetched::Read(record, ProviderStatus::Approved)
            if record.listing.id.as_str() == "l2"),
        "a version the caller does not hold is read whole: {:?}",
        batch[1]
    );
    assert_eq!(
        batch[2],
        Fetched::Held {
            id: ListingId::parse("l4").expect("id"),
            provider_status: ProviderStatus::Suspended
        }
    );
    assert!(store.listings_by_id(&[]).await.expect("empty").is_empty());
    // The connections kept for these reads may be closed by the server while idle: the read
    // is tried again on a new connection instead of failing.
    if store.backend() == Backend::Postgres {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(store.pool())
        .await
        .expect("terminate the other connections");
        let again = store
            .listings_by_id(&[wanted("l1", None)])
            .await
            .expect("read after the server closed the idle connection");
        assert_eq!(again.len(), 1);
    }
    let mut providers = ProviderQuery {
        status: Some(ProviderStatus::Approved),
        after_id: None,
        limit: 10,
    };
    assert_eq!(
        store.providers(&providers).await.expect("approved").len(),
        1
    );
    providers.status = None;
    assert_eq!(store.providers(&providers).await.expect("all").len(), 2);
}

async fn unreadable_stored_values_are_reported(store: SqlStore) {
    store
        .create_provider(&provider("p1", support::VAT_NUMBERS[0]), &change("a", "p1"))
        .await
        .expect("provider");
    store
        .create_listing(
            &listing("l1", "p1", ListingStatus::Draft, None),
            &change("b", "l1"),
        )
        .await
        .expect("listing");
    sqlx::query("UPDATE listings SET content = '{\"title\": 1}' WHERE id = 'l1'")
        .execute(store.pool())
        .await
        .expect("corrupt");
    assert!(matches!(
        store.listing(&ListingId::parse("l1").expect("id")).await,
        Err(StoreError::Corrupt {
            entity: "listing",
            ..
        })
    ));
    sqlx::query("UPDATE providers SET tax_code = '12345678901' WHERE id = 'p1'")
        .execute(store.pool())
        .await
        .expect("corrupt");
    assert!(matches!(
        store.provider(&ProviderId::parse("p1").expect("id")).await,
        Err(StoreError::Corrupt {
            entity: "provider",
            ..
        })
    ));
}

/// On SQLite, every change to a listing or a provider is counted once written, by every store
/// of the process on that file, and so is an outbox row another process wrote; PostgreSQL,
/// written by every replica, keeps no count.
async fn changes_are_counted_where_one_process_owns_the_file(store: SqlStore) {
    let Backend::Sqlite = store.backend() else {
        assert_eq!(store.change_count(), None);
        return;
    };
    let count = || store.change_count().expect("SQLite counts changes");
    let before = count();
    store
        .create_provider(
            &provider("p1", support::VAT_NUMBERS[0]),
            &change("r1", "p1"),
        )
        .await
        .expect("provider");
    let after_provider = count();
    assert!(after_provider > before);
    // Reads count nothing.
    store
        .provider(&ProviderId::parse("p1").expect("id"))
        .await
        .expect("read");
    assert_eq!(count(), after_provider);
    let draft = listing("l1", "p1", ListingStatus::Draft, None);
    store
        .create_listing(&draft, &change("r2", "l1"))
        .await
        .expect("listing");
    let after_listing = count();
    assert!(after_listing > after_provider);
    let mut published = draft.clone();
    published.listing.status = ListingStatus::Published;
    published.version = 2;
    store
        .update_listing(&published, &change("r3", "l1"))
        .await
        .expect("publish");
    let after_update = count();
    assert!(after_update > after_listing);
    let mut approved = provider("p1", support::VAT_NUMBERS[0]);
    approved.status = ProviderStatus::Approved;
    approved.version = 2;
    store
        .update_provider(&approved, &change("r4", "p1"))
        .await
        .expect("approve");
    assert!(count() > after_update);
    // A refused change may count (its transaction ended), and must not go backwards.
    let seen = count();
    assert!(
        store
            .update_provider(&approved, &change("r5", "p1"))
            .await
            .is_err()
    );
    assert!(count() >= seen);

    // Another store of this process on the same file, however its URL is spelled, counts
    // into the same number.
    let file = store
        .pool()
        .connect_options()
        .database_url
        .path()
        .to_owned();
    let other = SqlStore::connect(&format!("sqlite:{file}"), 2)
        .await
        .expect("second store");
    let seen = count();
    let mut suspended = approved.clone();
    suspended.status = ProviderStatus::Suspended;
    suspended.version = 3;
    other
        .update_provider(&suspended, &change("r6", "p1"))
        .await
        .expect("suspend through the other store");
    assert!(count() > seen, "the other store's change is counted here");
    assert_eq!(other.change_count(), store.change_count());

    // A change written past every store of this process (as another process would) is
    // counted when the outbox shows its row.
    let position = store.outbox_position().await.expect("position");
    let seen = count();
    sqlx::query("UPDATE providers SET status = 'approved', version = 4 WHERE id = 'p1'")
        .execute(store.pool())
        .await
        .expect("write past the store");
    sqlx::query(
        "INSERT INTO outbox (topic, entity_id, kind, payload, created_at) \
         VALUES ('provider', 'p1', 'provider.approved', '{}', 0)",
    )
    .execute(store.pool())
    .await
    .expect("its outbox row");
    assert_eq!(count(), seen, "not seen yet");
    assert!(store.outbox(position, 10).await.expect("outbox").len() == 1);
    assert!(count() > seen, "seen in the outbox");
    let seen = count();
    assert!(
        store
            .outbox(position + 1, 10)
            .await
            .expect("outbox")
            .is_empty()
    );
    assert_eq!(count(), seen, "an empty outbox read counts nothing");
}

/// What curators have to review: providers pending, listings submitted, published listings
/// verified before the window (or never).
async fn the_curation_backlog_counts_what_awaits_review(store: SqlStore) {
    let pending = provider("p1", support::VAT_NUMBERS[0]);
    let mut approved = provider("p2", support::VAT_NUMBERS[1]);
    approved.status = ProviderStatus::Approved;
    for (i, p) in [&pending, &approved].into_iter().enumerate() {
        store
            .create_provider(p, &change(&format!("p{i}"), p.id.as_str()))
            .await
            .expect("provider");
    }
    let rows = [
        listing("l1", "p2", ListingStatus::Published, Some(10)),
        listing("l2", "p2", ListingStatus::Published, Some(-400)),
        listing("l3", "p2", ListingStatus::Submitted, None),
        listing("l4", "p2", ListingStatus::Published, None),
        listing("l5", "p2", ListingStatus::Draft, None),
    ];
    for (i, row) in rows.iter().enumerate() {
        store
            .create_listing(row, &change(&format!("l{i}"), row.listing.id.as_str()))
            .await
            .expect("listing");
    }
    let backlog = store
        .backlog(at(-180).unix_seconds())
        .await
        .expect("backlog");
    assert_eq!(
        backlog,
        Backlog {
            providers_awaiting: 1,
            listings_awaiting: 1,
            stale_listings: 2,
        }
    );
}

/// Request ids older than the window are forgotten, a bounded batch at a time; newer ones stay.
async fn request_ids_are_forgotten_in_bounded_batches(store: SqlStore) {
    let recorded = |id: &str, day: i64| {
        let mut change = change(id, id);
        change.request.created_at = at(day);
        change
    };
    for (i, day) in [0, 1, 2, 10].into_iter().enumerate() {
        let mut p = provider(&format!("p{i}"), support::VAT_NUMBERS[i]);
        p.created_at = at(day);
        store
            .create_provider(&p, &recorded(&format!("r{i}"), day))
            .await
            .expect("provider");
    }
    let before = at(5).unix_seconds();
    assert_eq!(store.prune_requests(before, 2).await.expect("prune"), 2);
    assert_eq!(store.prune_requests(before, 2).await.expect("prune"), 1);
    assert_eq!(store.prune_requests(before, 2).await.expect("prune"), 0);
    for (id, kept) in [("r0", false), ("r2", false), ("r3", true)] {
        let found = store.recorded_request("tester", id).await.expect("read");
        assert_eq!(found.is_some(), kept, "{id}");
    }
    // The providers themselves are untouched.
    assert_eq!(
        store
            .providers(&ProviderQuery {
                status: None,
                after_id: None,
                limit: 10,
            })
            .await
            .expect("providers")
            .len(),
        4
    );
}

/// Writes five changes (outbox rows 1 to 5): the first four on day 0, the last on day 1.
async fn five_changes(store: &SqlStore) {
    for (i, day) in [0, 0, 0, 0, 1].into_iter().enumerate() {
        let mut p = provider(&format!("p{i}"), support::VAT_NUMBERS[i]);
        p.created_at = at(day);
        let mut change = change(&format!("r{i}"), &format!("p{i}"));
        change.request.created_at = at(day);
        store.create_provider(&p, &change).await.expect("provider");
    }
}

fn consumer(name: &str, kind: ConsumerKind, position: i64, gaps: &[i64]) -> ConsumerRecord {
    ConsumerRecord {
        name: name.to_owned(),
        cursor: OutboxCursor {
            position,
            gaps: gaps
                .iter()
                .map(|seq| (*seq, at(0).unix_seconds()))
                .collect(),
        },
        stamp: format!("stamp-{position}"),
        kind,
        updated_at: at(0).unix_seconds(),
    }
}

fn seqs(entries: &[OutboxEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.seq).collect()
}

/// Consumers' rows are written, replaced and read back whole; outbox rows are pruned through a
/// position and before a time, a bounded batch at a time, never the newest; silent replicas
/// are forgotten, shared indexes never.
async fn the_outbox_is_pruned_behind_its_consumers(store: SqlStore) {
    five_changes(&store).await;
    assert_eq!(store.consumers().await.expect("consumers"), vec![]);
    let shared = consumer(
        "search-index/meilisearch/listings",
        ConsumerKind::Shared,
        3,
        &[],
    );
    let replica = consumer("search-index/embedded/a", ConsumerKind::Replica, 5, &[]);
    store.put_consumer(&shared).await.expect("put");
    store.put_consumer(&replica).await.expect("put");
    let moved = consumer(&shared.name, ConsumerKind::Shared, 4, &[2]);
    store.put_consumer(&moved).await.expect("replace");
    assert_eq!(
        store.consumer(&shared.name).await.expect("read"),
        Some(moved.clone())
    );
    assert_eq!(store.consumer("nobody").await.expect("read"), None);
    assert_eq!(
        store.consumers().await.expect("consumers"),
        vec![replica.clone(), moved]
    );
    let day_one = at(1).unix_seconds();
    assert_eq!(store.prune_outbox(3, day_one, 2).await.expect("prune"), 2);
    assert_eq!(store.prune_outbox(3, day_one, 2).await.expect("prune"), 1);
    assert_eq!(store.prune_outbox(3, day_one, 2).await.expect("prune"), 0);
    assert_eq!(seqs(&store.outbox(0, 10).await.expect("outbox")), [4, 5]);
    // Row 5 was written on day 1: kept until later; then row 4 goes, never the newest.
    assert_eq!(
        store
            .prune_outbox(100, at(9).unix_seconds(), 10)
            .await
            .expect("prune"),
        1
    );
    assert_eq!(seqs(&store.outbox(0, 10).await.expect("outbox")), [5]);
    assert_eq!(store.outbox_position().await.expect("position"), 5);
    assert_eq!(
        store
            .forget_replicas(at(0).unix_seconds() + 1)
            .await
            .expect("forget"),
        1
    );
    assert_eq!(
        store
            .consumers()
            .await
            .expect("consumers")
            .iter()
            .map(|c| c.kind)
            .collect::<Vec<_>>(),
        [ConsumerKind::Shared]
    );
}

/// A retention pass prunes what every consumer applied and no gap one waits for, once old
/// enough; with no consumer known it prunes nothing.
async fn a_retention_pass_prunes_what_every_consumer_applied(store: SqlStore) {
    five_changes(&store).await;
    let three_days_on = at(3);
    let clock: welfare_runtime::clock::Clock = std::sync::Arc::new(move || three_days_on);
    let retention = welfare_runtime::config::RetentionConfig::default();
    let pass = catalog_svc::retention::pass(&store, &clock, &retention)
        .await
        .expect("pass");
    assert_eq!(pass.outbox_rows, 0, "nobody known: nothing pruned");
    assert_eq!(pass.request_ids, 4, "day 0's request ids are past 48 hours");
    let mut waiting = consumer(
        "search-index/meilisearch/listings",
        ConsumerKind::Shared,
        4,
        &[3],
    );
    waiting.updated_at = at(3).unix_seconds();
    store.put_consumer(&waiting).await.expect("put");
    let pass = catalog_svc::retention::pass(&store, &clock, &retention)
        .await
        .expect("pass");
    assert_eq!(
        pass.outbox_rows, 2,
        "rows 1 and 2: row 3 is a gap it waits for"
    );
    assert_eq!(seqs(&store.outbox(0, 10).await.expect("outbox")), [3, 4, 5]);
}

welfare_storage::on_every_backend!(
    support::open;
    the_outbox_is_pruned_behind_its_consumers,
    a_retention_pass_prunes_what_every_consumer_applied,
    request_ids_are_forgotten_in_bounded_batches,
    the_curation_backlog_counts_what_awaits_review,
    changes_are_counted_where_one_process_owns_the_file,
    a_change_writes_its_row_answer_and_outbox_row_together,
    a_refused_change_writes_nothing,
    concurrent_changes_from_one_version_let_exactly_one_through,
    queries_see_exactly_what_their_visibility_allows,
    unreadable_stored_values_are_reported,
);

/// Migration 0002 rebuilds SQLite's outbox (SQLite cannot change a CHECK constraint): rows
/// already written are kept, and sequence numbers are never reused — not even those of rows
/// pruned before it ran.
#[tokio::test]
async fn the_sqlite_outbox_keeps_its_rows_and_numbers_across_the_local_words_migration() {
    use sqlx::{Connection, Row};
    let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    let migration = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/migrations/sqlite/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("migration")
    };
    let insert = |topic: &'static str| {
        sqlx::query(
            "INSERT INTO outbox (topic, entity_id, kind, payload, created_at) \
             VALUES ($1, 'x', 'k', '{}', 1) RETURNING seq",
        )
        .bind(topic)
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration("0001_catalog.sql")))
        .execute(&mut db)
        .await
        .expect("0001");
    for _ in 0..5 {
        insert("listing").fetch_one(&mut db).await.expect("row");
    }
    sqlx::query("DELETE FROM outbox WHERE seq = 5")
        .execute(&mut db)
        .await
        .expect("prune");
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration("0002_local_words.sql")))
        .execute(&mut db)
        .await
        .expect("0002");
    let kept: Vec<i64> = sqlx::query("SELECT seq FROM outbox ORDER BY seq")
        .fetch_all(&mut db)
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get("seq"))
        .collect();
    assert_eq!(kept, [1, 2, 3, 4]);
    let next: i64 = insert("local_word")
        .fetch_one(&mut db)
        .await
        .expect("new topic")
        .get("seq");
    assert_eq!(next, 6, "5 was used once");
    assert!(insert("bogus").fetch_one(&mut db).await.is_err());
}
