//! The Meilisearch adapter against a real server (`MEILI_URL`, `MEILI_MASTER_KEY`; each test
//! reports itself skipped without one): settings before documents, every write's task checked,
//! a failed task an error and a metric, rebuilds swapped in while searches go on. That it
//! answers like the embedded index is the conformance suite's part, here only what it needs
//! more listings for (a word over the cap); a curator's local word reaches its documents.
#![allow(clippy::indexing_slicing, clippy::print_stdout)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use catalog_svc::metrics::METRIC_INDEX_FAILURES;
use catalog_svc::search::meili::{MeiliIndex, Tuning};
use catalog_svc::search::{IndexError, IndexQuery, SearchDocument, SearchIndex};
use meilisearch_sdk::client::Client;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use support::*;
use welfare_core::category::Category;
use welfare_core::territory::GeoPoint;

fn document(n: usize) -> SearchDocument {
    SearchDocument {
        id: format!("listing-{n:05}"),
        provider_id: format!("provider-{}", n % 3),
        title: format!("Assistenza domiciliare anziani {n}"),
        description: "Aiuto a casa per l'igiene personale e la spesa.".to_owned(),
        vocabulary: "Servizio di assistenza domiciliare · SAD · badante".to_owned(),
        category: Category::SocioAssistenziale,
        subcategory: "sad".to_owned(),
        comuni: vec!["098031".to_owned()],
        everywhere: false,
        free: n.is_multiple_of(2),
        min_price_cents: if n.is_multiple_of(2) { 0 } else { 1_500 },
        list_price_cents: if n.is_multiple_of(2) { 0 } else { 1_800 },
        min_age: 65,
        max_age: 120,
        location: GeoPoint::new(45.31, 9.50).ok(),
        verified_at: 1_000,
    }
}

fn everything() -> IndexQuery {
    IndexQuery::everything(0, 10)
}

fn client() -> Client {
    let config = meili_config("unused");
    Client::new(config.url, config.api_key).expect("client")
}

/// Creates index `uid` keyed on `uid`, a field our documents lack: adding them then fails.
async fn keyed_on_another_field(uid: &str) {
    let client = client();
    client
        .create_index(uid, Some("uid"))
        .await
        .expect("create")
        .wait_for_completion(&client, None, None)
        .await
        .expect("created");
}

/// A test's clean-up deletes the indexes it created — its own and the one named after it — and
/// leaves another run's alone, however old.
#[tokio::test]
async fn a_test_deletes_its_own_indexes_and_no_one_elses() {
    let client = client();
    let uids = async || -> Vec<String> {
        let mut query = meilisearch_sdk::indexes::IndexesQuery::new(&client);
        query.with_limit(1_000);
        client
            .list_all_indexes_with(&query)
            .await
            .expect("indexes")
            .results
            .into_iter()
            .map(|index| index.uid)
            .collect()
    };
    let (index, own) = meili("own", Tuning::Italian).await;
    // The stamp lives in an index named after this one.
    index.set_stamp("stamp-1").await.expect("stamp");
    let mine = own.uid().to_owned();
    let theirs = meili_config("someone_elses");
    keyed_on_another_field(&theirs.index).await;
    // Deleted at the end, or if an assertion below fails.
    let theirs_guard = own_indexes(&theirs);
    let before = uids().await;
    assert!(before.contains(&mine) && before.contains(&theirs.index));
    assert!(before.contains(&format!("{mine}__state")), "{before:?}");
    drop(own);
    let after = uids().await;
    assert!(
        !after
            .iter()
            .any(|uid| uid == &mine || uid.starts_with(&format!("{mine}__"))),
        "{after:?}"
    );
    assert!(after.contains(&theirs.index), "another run's index is kept");
    drop(theirs_guard);
}

#[tokio::test]
async fn settings_are_applied_before_any_document() {
    let (index, _own) = meili("settings", Tuning::Italian).await;
    let applied = client()
        .index(index.uid())
        .get_settings()
        .await
        .expect("settings");
    let wanted = index.settings();
    assert_eq!(applied.ranking_rules, wanted.ranking_rules);
    assert_eq!(applied.searchable_attributes, wanted.searchable_attributes);
    assert_eq!(
        applied
            .typo_tolerance
            .as_ref()
            .and_then(|t| t.min_word_size_for_typos.clone()),
        wanted
            .typo_tolerance
            .as_ref()
            .and_then(|t| t.min_word_size_for_typos.clone())
    );
    let mut filterable: Vec<String> = applied
        .filterable_attributes
        .unwrap_or_default()
        .iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    filterable.sort();
    assert!(filterable.contains(&"comuni".to_owned()), "{filterable:?}");
    assert!(filterable.contains(&"_geo".to_owned()), "{filterable:?}");
    assert_eq!(index.document_count().await.expect("count"), 0);
    index.delete().await.expect("delete");
}

#[tokio::test]
async fn writes_are_visible_when_they_return_and_a_failed_task_is_an_error() {
    let (index, _own) = meili("writes", Tuning::Italian).await;
    index
        .upsert((0..20).map(document).collect())
        .await
        .expect("upsert");
    let page = index.search(&everything()).await.expect("search");
    assert_eq!(page.total, 20);
    let free = index
        .search(&IndexQuery {
            free_only: true,
            ..everything()
        })
        .await
        .expect("search");
    assert_eq!(free.total, 10);
    let price = free
        .facets
        .iter()
        .find(|f| f.field == "price")
        .expect("facet");
    assert_eq!(price.buckets, vec![("free".to_owned(), 10)]);
    index
        .remove(vec!["listing-00000".to_owned(), "unknown".to_owned()])
        .await
        .expect("remove");
    assert_eq!(index.search(&everything()).await.expect("search").total, 19);
    index.delete().await.expect("delete");

    // An index whose primary key is another field refuses our documents: the task fails, and
    // the adapter says so, naming the task and Meilisearch's code.
    let config = meili_config("wrong_key");
    let _own = own_indexes(&config);
    keyed_on_another_field(&config.index).await;
    let broken = MeiliIndex::open(&config, Tuning::Italian)
        .await
        .expect("open");
    let error = broken
        .upsert(vec![document(1)])
        .await
        .expect_err("a failed task");
    match &error {
        IndexError::Task { what, message, .. } => {
            assert_eq!(what, "add documents");
            assert!(message.contains("primary key"), "{error}");
        }
        other => panic!("expected a task failure, got {other}"),
    }
    assert_eq!(broken.document_count().await.expect("count"), 0);
    broken.delete().await.expect("delete");
}

#[tokio::test]
async fn a_rebuild_swaps_in_a_new_index_while_searches_go_on() {
    let (index, _own) = meili("rebuild", Tuning::Italian).await;
    index
        .upsert((0..100).map(document).collect())
        .await
        .expect("upsert");
    let sizes = [150_u64, 120, 200];
    let done = Arc::new(AtomicBool::new(false));
    let searcher = {
        let index = index.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut searches = 0;
            while !done.load(Ordering::SeqCst) {
                let page = index
                    .search(&IndexQuery {
                        text: "assistenza anziani".to_owned(),
                        ..everything()
                    })
                    .await
                    .expect("every search during rebuilds succeeds");
                assert!(
                    [100, 150, 120, 200].contains(&page.total),
                    "a half-built index: {} hits",
                    page.total
                );
                searches += 1;
            }
            searches
        })
    };
    for size in sizes {
        index
            .rebuild(
                (0..usize::try_from(size).expect("size"))
                    .map(document)
                    .collect(),
            )
            .await
            .expect("rebuild");
        assert_eq!(
            index.search(&everything()).await.expect("search").total,
            size
        );
    }
    done.store(true, Ordering::SeqCst);
    let searches = searcher.await.expect("searcher");
    assert!(searches > 0);
    // The swapped-out indexes are gone.
    let left: Vec<String> = client().list_all_indexes_raw().await.expect("indexes")["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|i| i["uid"].as_str().map(str::to_owned))
        .filter(|uid| uid.starts_with(&format!("{}__", index.uid())))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    index.delete().await.expect("delete");
}

#[tokio::test]
async fn the_indexer_counts_failed_tasks() {
    let (index, _own) = meili("failing", Tuning::Italian).await;
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());
    let mut world = world_with(sqlite().await, index.clone()).await;
    let (mut cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    // Someone replaces the live index with one keyed on another field: writes now fail.
    index.delete().await.expect("delete");
    keyed_on_another_field(index.uid()).await;
    world.publish(swimming()).await;
    let before = cursor.clone();
    let error = world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect_err("a failed task");
    assert!(error.to_string().contains("primary key"), "{error}");
    assert_eq!(cursor, before, "the cursor moved past a failed batch");
    provider.force_flush().expect("flush");
    let counted = exporter
        .get_finished_metrics()
        .expect("metrics")
        .iter()
        .any(|resource| {
            resource
                .scope_metrics()
                .any(|scope| scope.metrics().any(|m| m.name() == METRIC_INDEX_FAILURES))
        });
    index.delete().await.expect("delete");
    assert!(counted, "{METRIC_INDEX_FAILURES} was not recorded");
}

/// A situation's tiers are built on the port's filters alone, so Meilisearch answers them as
/// the embedded index does: the same hits in the same order, the same total and facets, page
/// after page.
#[tokio::test]
async fn a_situation_is_answered_alike_by_both_adapters() {
    use catalog_svc::search::answering::{search_answering, tiers};
    use catalog_svc::search::embedded::EmbeddedIndex;
    use welfare_core::need;

    let listing = |n: usize, subcategory: &str, category: Category, title: &str| SearchDocument {
        id: format!("situation-{n:02}"),
        subcategory: subcategory.to_owned(),
        category,
        title: title.to_owned(),
        description: "Un servizio del territorio.".to_owned(),
        vocabulary: String::new(),
        ..document(n)
    };
    let documents = vec![
        listing(
            1,
            "assistenza-notturna",
            Category::SocioAssistenziale,
            "Un operatore accanto",
        ),
        listing(
            2,
            "centro-diurno",
            Category::SocioAssistenziale,
            "Centro diurno Il Glicine",
        ),
        listing(
            3,
            "sostegno-caregiver",
            Category::Psicologico,
            "Caffè per chi assiste",
        ),
        listing(
            4,
            "attivita-sportive",
            Category::CuraFigli,
            "Notte bianca dello sport",
        ),
        listing(5, "sad", Category::SocioAssistenziale, "Aiuto a casa"),
        listing(
            6,
            "pratiche-e-posta",
            Category::Commissioni,
            "Posta e bollette",
        ),
    ];
    let embedded = EmbeddedIndex::new().expect("index");
    embedded.rebuild(documents.clone()).await.expect("embedded");
    let (meili, _own) = meili("situation", Tuning::Italian).await;
    meili.rebuild(documents).await.expect("meili");

    let text = "mio padre ha l'Alzheimer e non dorme di notte";
    let preferences: Vec<(&str, u16)> = need::answers(&need::situations_in(text))
        .iter()
        .map(|(sub, weight)| (sub.code, *weight))
        .collect();
    let tiers = tiers(&preferences);
    let mut query = everything();
    query.text = welfare_core::query::read_query(text, &welfare_core::territory::Territory::lodi())
        .remaining;
    for (offset, limit) in [(0, 10), (0, 2), (2, 2), (4, 2)] {
        query.offset = offset;
        query.limit = limit;
        let ours = search_answering(&embedded, &query, &tiers)
            .await
            .expect("embedded");
        let theirs = search_answering(&meili, &query, &tiers)
            .await
            .expect("meili");
        let ids = |page: &catalog_svc::search::IndexPage| -> Vec<String> {
            page.hits.iter().map(|h| h.id.clone()).collect()
        };
        assert_eq!(ids(&ours), ids(&theirs), "page at {offset}");
        assert_eq!(ours.total, theirs.total);
        assert_eq!(ours.facets, theirs.facets);
        if offset == 0 && limit == 10 {
            assert_eq!(
                ids(&ours),
                [
                    "situation-01",
                    "situation-03",
                    "situation-02",
                    "situation-05",
                    "situation-04"
                ],
                "night care, the carer, the day centre, home care, then the word"
            );
        }
    }
    // Both read a hit's rank class the same way: the query words it matched, plus its tier.
    let mut plain = everything();
    plain.text = "operatore accanto".to_owned();
    let classes = |page: &catalog_svc::search::IndexPage| -> Vec<(String, u32)> {
        page.hits.iter().map(|h| (h.id.clone(), h.class)).collect()
    };
    let ours = embedded.search(&plain).await.expect("embedded");
    let theirs = meili.search(&plain).await.expect("meili");
    assert_eq!(classes(&ours), [("situation-01".to_owned(), 2)]);
    assert_eq!(classes(&ours), classes(&theirs));
    query.offset = 0;
    query.limit = 10;
    let tiered = search_answering(&meili, &query, &tiers)
        .await
        .expect("meili");
    assert!(
        tiered.hits[0].class >= 1_000,
        "a tier's class is above any word count"
    );
    meili.delete().await.expect("delete");
}

/// A word with more matches than `WORD_CAP` is counted under the query's filter first: a filter
/// that narrows it below the cap keeps the answer by words matched (the embedded index's page,
/// order, total and facets); otherwise the combined search answers, with the same total and
/// facets. Figures kept between searches are forgotten when this process writes.
#[tokio::test]
async fn a_word_over_the_cap_is_counted_under_the_filter() {
    use catalog_svc::search::embedded::EmbeddedIndex;
    use catalog_svc::search::meili::WORD_CAP;

    let placed = |n: usize, comune: &str| SearchDocument {
        comuni: vec![comune.to_owned()],
        ..document(n)
    };
    let mut documents: Vec<SearchDocument> = (0..WORD_CAP + 150)
        .map(|n| placed(n, if n < 100 { "098001" } else { "098031" }))
        .collect();
    let embedded = EmbeddedIndex::new().expect("index");
    embedded.rebuild(documents.clone()).await.expect("embedded");
    let (meili, _own) = meili("over_the_cap", Tuning::Italian).await;
    meili.rebuild(documents.clone()).await.expect("meili");
    let query = |served: Option<&str>| IndexQuery {
        text: "anziani domiciliare".to_owned(),
        served: served.map(str::to_owned),
        ..everything()
    };
    let ids = |page: &catalog_svc::search::IndexPage| -> Vec<String> {
        page.hits.iter().map(|h| h.id.clone()).collect()
    };
    for (served, total) in [
        (Some("098001"), 100),
        (Some("098031"), WORD_CAP + 50),
        (None, WORD_CAP + 150),
    ] {
        let ours = embedded.search(&query(served)).await.expect("embedded");
        let theirs = meili.search(&query(served)).await.expect("meili");
        assert_eq!(
            ours.total,
            u64::try_from(total).expect("total"),
            "{served:?}"
        );
        assert_eq!(theirs.total, ours.total, "{served:?}");
        assert_eq!(theirs.facets, ours.facets, "{served:?}");
        if total <= WORD_CAP {
            assert_eq!(ids(&theirs), ids(&ours), "answered by words: {served:?}");
        }
    }
    // More listings in the small comune, written by this process: its figures are read again
    // and the comune's answer, now over the cap, goes to the combined search.
    documents = (1_000..1_000 + WORD_CAP)
        .map(|n| placed(n, "098001"))
        .collect();
    embedded.upsert(documents.clone()).await.expect("embedded");
    meili.upsert(documents).await.expect("meili");
    let ours = embedded
        .search(&query(Some("098001")))
        .await
        .expect("embedded");
    let theirs = meili.search(&query(Some("098001"))).await.expect("meili");
    assert_eq!(ours.total, u64::try_from(100 + WORD_CAP).expect("total"));
    assert_eq!(theirs.total, ours.total);
    assert_eq!(theirs.facets, ours.facets);
    meili.delete().await.expect("delete");
}

/// A curator's local word reaches Meilisearch as it reaches the embedded index: named by the
/// search at once, then in the words of the subcategory's listings once the indexer passes,
/// and gone from them once removed.
#[tokio::test]
async fn a_local_word_reaches_meilisearch_documents() {
    use welfare_proto::catalog::{
        DeleteLocalWordRequest, PutLocalWordRequest, SearchListingsRequest,
        put_local_word_request::Meaning,
    };
    let (index, _own) = meili("local_words", Tuning::Italian).await;
    let mut world = world_with(sqlite().await, index.clone()).await;
    let home = world.publish(home_care()).await;
    let (mut cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    let search = |text: &str| SearchListingsRequest {
        query: text.to_owned(),
        ..SearchListingsRequest::default()
    };
    let found = |response: welfare_proto::catalog::SearchListingsResponse| -> Vec<String> {
        response
            .hits
            .into_iter()
            .map(|hit| hit.listing.expect("listing").id)
            .collect()
    };
    let before = world.server.client.search_listings(search("sciura")).await;
    assert!(found(before.expect("search").into_inner()).is_empty());
    let word = world
        .server
        .client
        .put_local_word(call(
            PutLocalWordRequest {
                phrase: "sciura brava".to_owned(),
                meaning: Some(Meaning::Subcategory("sad".to_owned())),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("put")
        .into_inner();
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    let after = world.server.client.search_listings(search("sciura")).await;
    assert_eq!(
        found(after.expect("search").into_inner()),
        [home.id.as_str()]
    );
    world
        .server
        .client
        .delete_local_word(call(
            DeleteLocalWordRequest {
                phrase: word.phrase,
                etag: word.etag,
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("delete");
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    let gone = world.server.client.search_listings(search("sciura")).await;
    index.delete().await.expect("delete");
    assert!(found(gone.expect("search").into_inner()).is_empty());
}
