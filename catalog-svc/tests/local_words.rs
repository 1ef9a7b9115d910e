//! The Ambito's local words over each backend: curators add, change and remove them; searches
//! read them at once on the replica that wrote them and within the indexer's pass on another;
//! the subcategory's listings are re-indexed with them; every change is in the outbox with
//! who made it; only curators may touch them, and every bad word is refused naming its field
//! and changes nothing.
#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::store::{CatalogStore, SqlStore, Topic};
use support::*;
use tonic::Code;
use welfare_proto::catalog::*;

fn put(phrase: &str, meaning: put_local_word_request::Meaning, etag: &str) -> PutLocalWordRequest {
    PutLocalWordRequest {
        phrase: phrase.to_owned(),
        meaning: Some(meaning),
        etag: etag.to_owned(),
        request_id: rid(),
    }
}

fn service(code: &str) -> put_local_word_request::Meaning {
    put_local_word_request::Meaning::Subcategory(code.to_owned())
}

fn situation(code: &str) -> put_local_word_request::Meaning {
    put_local_word_request::Meaning::Situation(code.to_owned())
}

type Client = catalog_service_client::CatalogServiceClient<tonic::transport::Channel>;

/// A search as a curator, with each hit explained.
async fn explained(client: &mut Client, text: &str) -> SearchListingsResponse {
    client
        .search_listings(call(
            SearchListingsRequest {
                query: text.to_owned(),
                explain: true,
                ..SearchListingsRequest::default()
            },
            &curator(),
        ))
        .await
        .expect("search")
        .into_inner()
}

fn titles(response: &SearchListingsResponse) -> Vec<String> {
    response
        .hits
        .iter()
        .map(|h| h.listing.as_ref().expect("listing").title.clone())
        .collect()
}

/// The local-word rows of the outbox: (kind, payload).
async fn audit(store: &SqlStore) -> Vec<(String, serde_json::Value)> {
    store
        .outbox(0, 10_000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|row| row.event.topic == Topic::LocalWord)
        .map(|row| {
            (
                row.event.kind,
                serde_json::from_str(&row.event.payload).expect("json payload"),
            )
        })
        .collect()
}

async fn curators_manage_local_words_and_search_reads_them(store: SqlStore) {
    let mut world = world(store.clone()).await;
    let home = world.publish(home_care()).await;
    world.publish(swimming()).await;
    let (mut cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    let client = &mut world.server.client;

    let before = explained(client, "una sciura brava per la nonna").await;
    assert!(!titles(&before).contains(&home.title), "no listing says it");

    // Added: read at once by this replica's searches, named in the explanation.
    let added = client
        .put_local_word(call(put("Sciura Brava", service("sad"), ""), &curator()))
        .await
        .expect("put")
        .into_inner();
    assert_eq!(added.phrase, "sciura brava");
    assert_eq!(
        added.meaning,
        Some(local_word::Meaning::Subcategory("sad".to_owned()))
    );
    assert_eq!(added.updated_by, "ufficio-di-piano");
    let found = explained(client, "una sciura brava per la nonna").await;
    assert_eq!(titles(&found)[0], home.title);
    let why = found.hits[0].explanation.clone().expect("explanation");
    assert_eq!(why.named_by, ["sciura brava"]);
    assert!(why.rank_class.starts_with("named_service"), "{why:?}");

    // The listings of the subcategory carry the word once the indexer passed: a search with
    // only one of its words finds them.
    assert!(titles(&explained(client, "sciura").await).is_empty());
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    let client = &mut world.server.client;
    assert_eq!(
        titles(&explained(client, "sciura").await),
        [home.title.as_str()]
    );
    let categories = client
        .list_categories(ListCategoriesRequest {})
        .await
        .expect("categories")
        .into_inner();
    let sad = categories
        .categories
        .iter()
        .flat_map(|c| &c.subcategories)
        .find(|s| s.code == "sad")
        .expect("sad");
    assert_eq!(sad.local_synonyms, ["sciura brava"]);

    // A situation phrase.
    client
        .put_local_word(call(
            put("non ci sta più con la testa", situation("dementia"), ""),
            &curator(),
        ))
        .await
        .expect("put situation");
    let read = explained(client, "mia madre non ci sta più con la testa")
        .await
        .interpretation
        .expect("interpretation");
    assert_eq!(read.situations.len(), 1, "{read:?}");
    assert_eq!(read.situations[0].code, "dementia");
    assert_eq!(read.situations[0].phrase, "non ci sta piu con la testa");

    // Changing a word needs its etag; adding it again is refused.
    let again = client
        .put_local_word(call(put("sciura brava", service("sad"), ""), &curator()))
        .await
        .expect_err("exists");
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(reason(&again), "LOCAL_WORD_EXISTS");
    let changed = client
        .put_local_word(call(
            put("sciura brava", service("compagnia-anziani"), &added.etag),
            &curator(),
        ))
        .await
        .expect("change")
        .into_inner();
    assert_ne!(changed.etag, added.etag);
    let stale = client
        .put_local_word(call(
            put("sciura brava", service("sad"), &added.etag),
            &curator(),
        ))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");

    // A retry gets the first answer; the same request id for another word is refused.
    let first = put("il trasporto dei nonni", service("trasporto-anziani"), "");
    let answer = client
        .put_local_word(call(first.clone(), &curator()))
        .await
        .expect("put")
        .into_inner();
    let replayed = client
        .put_local_word(call(first.clone(), &curator()))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(replayed, answer);
    let reused = client
        .put_local_word(call(
            PutLocalWordRequest {
                phrase: "il pulmino dei nonni".to_owned(),
                ..first
            },
            &curator(),
        ))
        .await
        .expect_err("reused");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");

    // Removed with its etag.
    let removed = client
        .delete_local_word(call(
            DeleteLocalWordRequest {
                phrase: "Sciura Brava".to_owned(),
                etag: changed.etag.clone(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(removed.deleted.expect("deleted").phrase, "sciura brava");
    // No longer read as naming the service at once (its listings keep the words until the
    // indexer passes).
    let found = explained(client, "una sciura brava per la nonna").await;
    assert!(
        found
            .hits
            .iter()
            .all(|hit| hit.explanation.as_ref().expect("why").named_by.is_empty())
    );
    let listed = client
        .list_local_words(call(ListLocalWordsRequest {}, &curator()))
        .await
        .expect("list")
        .into_inner();
    let phrases: Vec<&str> = listed.words.iter().map(|w| w.phrase.as_str()).collect();
    assert_eq!(
        phrases,
        ["il trasporto dei nonni", "non ci sta piu con la testa"]
    );
    let dementia = listed
        .situations
        .iter()
        .find(|s| s.code == "dementia")
        .expect("dementia");
    assert_eq!(dementia.local_phrases, ["non ci sta piu con la testa"]);
    assert!(!dementia.subcategories.is_empty());

    // The audit: every change, with who made it and the meaning before.
    let audit = audit(&store).await;
    let kinds: Vec<&str> = audit.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "local_word.added",
            "local_word.added",
            "local_word.changed",
            "local_word.added",
            "local_word.deleted",
        ]
    );
    assert_eq!(audit[2].1["code"], "compagnia-anziani");
    assert_eq!(audit[2].1["before"]["code"], "sad");
    assert_eq!(audit[2].1["by"], "ufficio-di-piano");
    assert_eq!(audit[4].1["before"]["code"], "compagnia-anziani");
    assert!(audit[4].1.get("code").is_none());

    // The listings lose the word again once the indexer passes.
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    let client = &mut world.server.client;
    assert!(titles(&explained(client, "sciura").await).is_empty());
    assert!(
        !titles(&explained(client, "una sciura brava per la nonna").await).contains(&home.title)
    );
}

async fn another_replica_reads_a_word_within_its_indexer_pass(store: SqlStore) {
    let mut world = world(store.clone()).await;
    let home = world.publish(home_care()).await;
    world.server.indexer.rebuild().await.expect("rebuild");
    let mut other = serve(store.clone()).await;
    let (mut cursor, _) = other.indexer.rebuild().await.expect("rebuild");
    world
        .server
        .client
        .put_local_word(call(put("sciura brava", service("sad"), ""), &curator()))
        .await
        .expect("put");
    let text = "una sciura brava per la nonna";
    assert!(
        !titles(&explained(&mut other.client, text).await).contains(&home.title),
        "not before its indexer passes"
    );
    other.indexer.catch_up(&mut cursor).await.expect("catch up");
    let found = explained(&mut other.client, text).await;
    assert_eq!(titles(&found)[0], home.title);
    assert_eq!(
        found.hits[0].explanation.clone().expect("why").named_by,
        ["sciura brava"]
    );
}

async fn only_curators_manage_local_words_and_bad_words_change_nothing(store: SqlStore) {
    let mut server = serve(store.clone()).await;
    let client = &mut server.client;
    let citizen = citizen();
    let operator = operator_of("00000000-0000-4000-8000-000000000001");
    for bearer in [citizen.as_str(), operator.as_str()] {
        let denied = client
            .put_local_word(call(put("sciura brava", service("sad"), ""), bearer))
            .await
            .expect_err("denied");
        assert_eq!(denied.code(), Code::PermissionDenied);
        let denied = client
            .list_local_words(call(ListLocalWordsRequest {}, bearer))
            .await
            .expect_err("denied");
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
    let anonymous = client
        .put_local_word(put("sciura brava", service("sad"), ""))
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let refused = |request: PutLocalWordRequest, field: &'static str| (request, field);
    let cases = [
        refused(put(" ,;' ", service("sad"), ""), "phrase"),
        refused(put("per la", service("sad"), ""), "phrase"),
        refused(put("Codogno", service("sad"), ""), "phrase"),
        refused(put("badante", service("sad"), ""), "phrase"),
        refused(put(&"lungo ".repeat(12), service("sad"), ""), "phrase"),
        refused(put("sciura", service("astrologia"), ""), "subcategory"),
        refused(put("sciura", situation("nowhere"), ""), "situation"),
        refused(
            PutLocalWordRequest {
                meaning: None,
                ..put("sciura", service("sad"), "")
            },
            "meaning",
        ),
        refused(put("sciura", service("sad"), "v0"), "etag"),
        refused(
            PutLocalWordRequest {
                request_id: String::new(),
                ..put("sciura", service("sad"), "")
            },
            "request_id",
        ),
    ];
    for (request, field) in cases {
        let status = client
            .put_local_word(call(request.clone(), &curator()))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(
            fields(&status),
            [field],
            "{request:?}: {}",
            status.message()
        );
    }
    let unknown = client
        .put_local_word(call(put("sciura", service("sad"), "v3"), &curator()))
        .await
        .expect_err("no such word to change");
    assert_eq!(reason(&unknown), "LOCAL_WORD_NOT_FOUND");
    let missing = client
        .delete_local_word(call(
            DeleteLocalWordRequest {
                phrase: "sciura".to_owned(),
                etag: "v1".to_owned(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "LOCAL_WORD_NOT_FOUND");
    let no_etag = client
        .delete_local_word(call(
            DeleteLocalWordRequest {
                phrase: "sciura".to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect_err("no etag");
    assert_eq!(fields(&no_etag), ["etag"]);

    assert!(store.local_words().await.expect("words").is_empty());
    assert!(audit(&store).await.is_empty(), "nothing was written");
}

welfare_storage::on_every_backend!(
    support::open;
    curators_manage_local_words_and_search_reads_them,
    another_replica_reads_a_word_within_its_indexer_pass,
    only_curators_manage_local_words_and_bad_words_change_nothing,
);
