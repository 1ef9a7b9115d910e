//! `SearchListings` on the embedded index over each backend: Italian text with typos and
//! synonyms, comuni and ages read from the text (explicit filters win), filters, facets,
//! distance, answers for a person with exact "eligible only", freshness, and the indexer
//! following the outbox.
#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::search::SearchIndex;
use catalog_svc::store::SqlStore;
use support::*;
use tonic::Code;
use welfare_proto::catalog::*;
use welfare_proto::common;

fn meals() -> Listing {
    Listing {
        title: "Pasti caldi a domicilio".to_owned(),
        description: "Consegna del pranzo a casa per anziani e persone fragili.".to_owned(),
        category: common::Category::SocioAssistenziale.into(),
        subcategory: "pasti-a-domicilio".to_owned(),
        service_area: vec![CODOGNO.to_owned()],
        pricing: Some(Pricing {
            model: Some(pricing::Model::Fixed(pricing::Fixed {
                unit: common::Unit::Meal.into(),
                amount: eur(650),
            })),
            resident_discount_basis_points: 0,
        }),
        ..home_care()
    }
}

async fn search<S: catalog_svc::store::CatalogStore>(
    world: &mut World<S>,
    request: SearchListingsRequest,
) -> SearchListingsResponse {
    world
        .server
        .client
        .search_listings(request)
        .await
        .expect("search")
        .into_inner()
}

/// The curator verifies listing `id` again: a new version.
async fn verify<S: catalog_svc::store::CatalogStore>(world: &mut World<S>, id: &str) -> Listing {
    world
        .server
        .client
        .verify_listing(call(
            VerifyListingRequest {
                id: id.to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("verify")
        .into_inner()
}

fn titles(response: &SearchListingsResponse) -> Vec<String> {
    response
        .hits
        .iter()
        .map(|h| h.listing.as_ref().expect("listing").title.clone())
        .collect()
}

fn query(text: &str) -> SearchListingsRequest {
    SearchListingsRequest {
        query: text.to_owned(),
        ..SearchListingsRequest::default()
    }
}

async fn search_understands_people(store: SqlStore) {
    let mut world = world(store).await;
    let home = world.publish(home_care()).await;
    let pool = world.publish(swimming()).await;
    world.publish(listening_line()).await;
    let meals = world.publish(meals()).await;
    world.draft(home_care()).await;
    let (_, count) = world.server.indexer.rebuild().await.expect("rebuild");
    assert_eq!(count, 4, "the draft is not indexed");

    let found = search(&mut world, query("pasti a domicilio a Codogno")).await;
    assert_eq!(titles(&found)[0], meals.title);
    let reading = found.interpretation.clone().expect("interpretation");
    assert_eq!(reading.comune_name, "Codogno");
    assert_eq!(reading.istat_code, CODOGNO);
    assert_eq!(reading.remaining_query, "pasti a domicilio");
    assert!(
        !titles(&found).contains(&pool.title),
        "the pool is only in Lodi"
    );

    let found = search(&mut world, query("nuoto per un bimbo di 4 anni")).await;
    assert_eq!(titles(&found)[0], pool.title);
    assert_eq!(
        found.interpretation.clone().expect("reading").age_years,
        Some(4)
    );
    assert!(
        !titles(&found).contains(&home.title),
        "home care is for 65+"
    );

    // Typos and synonyms.
    let found = search(&mut world, query("assitenza domicilare")).await;
    assert_eq!(titles(&found)[0], home.title);
    let found = search(&mut world, query("badante")).await;
    assert_eq!(titles(&found)[0], home.title);

    // Explicit filters win over the text, and only what is applied is echoed.
    let found = search(
        &mut world,
        SearchListingsRequest {
            served_istat_code: LODI.to_owned(),
            ..query("pasti a Codogno")
        },
    )
    .await;
    assert_eq!(
        found.interpretation.clone().expect("reading").comune_name,
        ""
    );
    assert!(!titles(&found).contains(&meals.title));

    // Filters and facets.
    let free = search(
        &mut world,
        SearchListingsRequest {
            free_only: true,
            ..SearchListingsRequest::default()
        },
    )
    .await;
    assert_eq!(titles(&free), ["Sportello di ascolto telefonico"]);
    let all = search(&mut world, SearchListingsRequest::default()).await;
    assert_eq!(all.total_size, 4);
    let price = all
        .facets
        .iter()
        .find(|f| f.field == "price")
        .expect("price facet");
    assert_eq!(
        price
            .buckets
            .iter()
            .map(|b| (b.value.as_str(), b.count))
            .collect::<Vec<_>>(),
        [("paid", 3), ("free", 1)]
    );
    let category = all
        .facets
        .iter()
        .find(|f| f.field == "category")
        .expect("category facet");
    assert_eq!(category.buckets[0].value, "socio-assistenziale");
    assert_eq!(category.buckets[0].count, 2);
    assert_eq!(category.buckets[0].label, "Servizi socio-assistenziali");

    // Distance from Lodi: the pool (the only venue) first, with its distance.
    let near = search(
        &mut world,
        SearchListingsRequest {
            near_istat_code: LODI.to_owned(),
            order_by: SearchOrder::Distance.into(),
            ..SearchListingsRequest::default()
        },
    )
    .await;
    assert_eq!(titles(&near)[0], pool.title);
    assert!(near.hits[0].distance_meters.expect("distance") < 10_000.0);
    assert!(
        near.hits[1].distance_meters.is_none(),
        "no venue, no distance"
    );

    // For a person: decisions and quotes on every hit; "eligible only" drops exactly the rest.
    let person = common::Profile {
        residence_istat_code: Some(CODOGNO.to_owned()),
        beneficiary_age_years: Some(40),
        ..common::Profile::default()
    };
    let everything = search(
        &mut world,
        SearchListingsRequest {
            profile: Some(person.clone()),
            ..SearchListingsRequest::default()
        },
    )
    .await;
    assert!(
        everything
            .hits
            .iter()
            .all(|h| h.decision.is_some() && h.quote.is_some())
    );
    let eligible = search(
        &mut world,
        SearchListingsRequest {
            profile: Some(person),
            eligible_only: true,
            page_size: 1,
            ..SearchListingsRequest::default()
        },
    )
    .await;
    let expected: Vec<String> = everything
        .hits
        .iter()
        .filter(|h| {
            h.decision.as_ref().is_some_and(|d| {
                d.outcome == common::eligibility_decision::Outcome::Eligible as i32
            })
        })
        .map(|h| h.listing.as_ref().expect("listing").title.clone())
        .collect();
    assert_eq!(titles(&eligible), expected[..1]);
    // Page by page, "eligible only" returns exactly the eligible ones.
    let mut seen = titles(&eligible);
    let mut token = eligible.next_page_token.clone();
    while !token.is_empty() {
        let page = search(
            &mut world,
            SearchListingsRequest {
                profile: everything_profile(),
                eligible_only: true,
                page_size: 1,
                page_token: token.clone(),
                ..SearchListingsRequest::default()
            },
        )
        .await;
        seen.extend(titles(&page));
        token = page.next_page_token;
    }
    assert_eq!(seen, expected);

    // Stale listings leave search.
    world.server.clock.advance_days(181);
    let stale = search(&mut world, SearchListingsRequest::default()).await;
    assert_eq!(stale.total_size, 0);
}

/// A person describing a situation ("mio padre ha l'Alzheimer e non dorme di notte") finds the
/// services that answer it first — night care (answering both situations) before the day
/// centre — and a listing that merely shares a word ("notte") after them; the reading is
/// echoed with the phrases and the subcategories, best first. Naming a service outright keeps
/// the text's ranking.
async fn a_situation_ranks_the_services_that_answer_it_first(store: SqlStore) {
    let mut world = world(store).await;
    let sport = world
        .publish(Listing {
            title: "Notte bianca dello sport".to_owned(),
            description: "Una notte di giochi in piscina per i ragazzi.".to_owned(),
            ..swimming()
        })
        .await;
    let day_centre = world
        .publish(Listing {
            title: "Centro diurno integrato Il Glicine".to_owned(),
            description: "Accoglienza di giorno con pranzo, animazione e assistenza.".to_owned(),
            subcategory: "centro-diurno".to_owned(),
            ..home_care()
        })
        .await;
    let nights = world
        .publish(Listing {
            title: "Un operatore accanto".to_owned(),
            description: "Presenza a casa nelle ore in cui la famiglia riposa.".to_owned(),
            subcategory: "assistenza-notturna".to_owned(),
            ..home_care()
        })
        .await;
    world.server.indexer.rebuild().await.expect("rebuild");

    let found = search(
        &mut world,
        query("mio padre ha l'Alzheimer e non dorme di notte"),
    )
    .await;
    assert_eq!(
        titles(&found),
        [
            nights.title.clone(),
            day_centre.title.clone(),
            sport.title.clone()
        ]
    );
    assert_eq!(found.total_size, 3);
    let reading = found.interpretation.expect("interpretation");
    let situations: Vec<(&str, &str)> = reading
        .situations
        .iter()
        .map(|s| (s.code.as_str(), s.phrase.as_str()))
        .collect();
    assert_eq!(
        situations,
        [
            ("dementia", "alzheimer"),
            ("sleepless-nights", "non dorme di notte")
        ]
    );
    assert_eq!(reading.situations[0].label, "Demenza o Alzheimer");
    assert_eq!(
        reading.situations[1].subcategories[0],
        "assistenza-notturna"
    );

    // Curators see why: the situations the night care answers, the words found and missed.
    let mut explained = query("mio padre ha l'Alzheimer e non dorme di notte");
    explained.explain = true;
    let denied = world
        .server
        .client
        .search_listings(call(explained.clone(), &token("maria", &["citizen"], None)))
        .await
        .expect_err("citizens get no explanations");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let anonymous = world
        .server
        .client
        .search_listings(explained.clone())
        .await
        .expect_err("nor does anyone unknown");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let found = world
        .server
        .client
        .search_listings(call(explained, &curator()))
        .await
        .expect("explained")
        .into_inner();
    let why = |n: usize| found.hits[n].explanation.clone().expect("explanation");
    assert_eq!(why(0).subcategory, "assistenza-notturna");
    assert_eq!(why(0).rank_class, "situation_tier:1");
    assert_eq!(why(0).situations, ["dementia", "sleepless-nights"]);
    assert_eq!(why(1).situations, ["dementia"]);
    let sport_why = why(2);
    assert!(sport_why.rank_class.starts_with("words:"), "{sport_why:?}");
    assert!(
        sport_why
            .matched_words
            .iter()
            .any(|w| w.starts_with("nott")),
        "{sport_why:?}"
    );
    assert!(sport_why.situations.is_empty());
    let plain = world
        .server
        .client
        .search_listings(call(
            SearchListingsRequest {
                explain: true,
                ..query("assistenza notturna")
            },
            &curator(),
        ))
        .await
        .expect("explained")
        .into_inner();
    let why = plain.hits[0].explanation.clone().expect("explanation");
    assert_eq!(why.subcategory, "assistenza-notturna");
    assert_eq!(why.named_by, ["Assistenza notturna"], "{why:?}");
    assert_eq!(why.rank_class, "named_service, words:2/2");

    // A second page continues across the parts.
    let mut second = query("mio padre ha l'Alzheimer e non dorme di notte");
    second.page_size = 2;
    let first = search(&mut world, second.clone()).await;
    assert_eq!(
        titles(&first),
        [nights.title.clone(), day_centre.title.clone()]
    );
    second.page_token = first.next_page_token.clone();
    let next = search(&mut world, second).await;
    assert_eq!(titles(&next), std::slice::from_ref(&sport.title));

    // Ordered by distance, the person's order wins: the text's matches, nearest first.
    let mut by_distance = query("mio padre ha l'Alzheimer e non dorme di notte");
    by_distance.order_by = SearchOrder::Distance.into();
    by_distance.near_istat_code = LODI.to_owned();
    let found = search(&mut world, by_distance).await;
    assert!(
        found
            .hits
            .iter()
            .any(|h| h.listing.as_ref().is_some_and(|l| l.title == sport.title))
    );
    let distances: Vec<f64> = found
        .hits
        .iter()
        .filter_map(|h| h.distance_meters)
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
}

/// A Codogno resident searching home meals finds first the meals they may have, before the
/// equally relevant ones reserved to residents of other comuni; without a profile the index's
/// order stands.
async fn with_a_profile_the_listings_one_may_use_come_first(store: SqlStore) {
    let mut world = world(store).await;
    let reserved = |title: &str, comune: &str| Listing {
        title: title.to_owned(),
        description: "Il pranzo consegnato a casa dal lunedì al sabato.".to_owned(),
        service_area: Vec::new(),
        eligibility_rules: vec![EligibilityRule {
            rule: Some(eligibility_rule::Rule::ResidentIn(
                eligibility_rule::ResidentIn {
                    istat_codes: vec![comune.to_owned()],
                },
            )),
        }],
        ..meals()
    };
    let lodi_one = world.publish(reserved("Pasti a domicilio A", LODI)).await;
    let lodi_two = world.publish(reserved("Pasti a domicilio B", LODI)).await;
    let codogno = world
        .publish(reserved("Pasti a domicilio C", CODOGNO))
        .await;
    world.server.indexer.rebuild().await.expect("rebuild");

    let anonymous = search(&mut world, query("pasti a domicilio")).await;
    assert_eq!(anonymous.hits.len(), 3);
    let resident = search(
        &mut world,
        SearchListingsRequest {
            profile: Some(common::Profile {
                residence_istat_code: Some(CODOGNO.to_owned()),
                ..common::Profile::default()
            }),
            ..query("pasti a domicilio")
        },
    )
    .await;
    assert_eq!(
        titles(&resident)[0],
        codogno.title,
        "{:?}",
        titles(&resident)
    );
    let rest: std::collections::HashSet<String> = titles(&resident)[1..].iter().cloned().collect();
    assert_eq!(
        rest,
        std::collections::HashSet::from([lodi_one.title.clone(), lodi_two.title.clone()])
    );
    assert_eq!(
        resident.hits[0].decision.as_ref().map(|d| d.outcome),
        Some(common::eligibility_decision::Outcome::Eligible.into())
    );
}

fn everything_profile() -> Option<common::Profile> {
    Some(common::Profile {
        residence_istat_code: Some(CODOGNO.to_owned()),
        beneficiary_age_years: Some(40),
        ..common::Profile::default()
    })
}

async fn the_indexer_follows_the_outbox(store: SqlStore) {
    let mut world = world(store).await;
    let (mut cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    let pool = world.publish(swimming()).await;
    assert!(world.server.index.is_empty());
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    assert_eq!(world.server.index.len(), 1);
    let found = search(&mut world, query("piscina nuoto")).await;
    assert_eq!(titles(&found), std::slice::from_ref(&pool.title));
    // Before the index hears of a change, a hit is shown as the store has it now, though the
    // search above kept the listing decoded: the stored version decides.
    let verified = verify(&mut world, &pool.id).await;
    assert_ne!(verified.etag, pool.etag);
    let found = search(&mut world, query("piscina nuoto")).await;
    assert_eq!(
        found.hits[0].listing.as_ref().expect("listing").etag,
        verified.etag
    );
    // Suspending the provider removes its listings, from the next search on.
    world
        .server
        .client
        .suspend_provider(call(
            SuspendProviderRequest {
                id: world.provider_id.clone(),
                reason: "Verifica".to_owned(),
                request_id: rid(),
                etag: String::new(),
            },
            &curator(),
        ))
        .await
        .expect("suspend");
    let found = search(&mut world, query("piscina nuoto")).await;
    assert!(found.hits.is_empty(), "{found:?}");
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    assert!(world.server.index.is_empty());
    assert!(cursor.gaps.is_empty());
    let found = search(&mut world, query("nuoto")).await;
    assert!(found.hits.is_empty());
    // A rebuild swaps in a new index while searches keep answering.
    let searcher = {
        let index = world.server.index.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                index
                    .search(&catalog_svc::search::IndexQuery {
                        text: "nuoto".to_owned(),
                        ..catalog_svc::search::IndexQuery::everything(0, 10)
                    })
                    .await
                    .expect("search during rebuild");
            }
        })
    };
    for _ in 0..5 {
        world.server.indexer.rebuild().await.expect("rebuild");
    }
    searcher.await.expect("searches");
}

async fn bad_search_input_is_named(store: SqlStore) {
    let mut world = world(store).await;
    let cases: Vec<(SearchListingsRequest, &str)> = vec![
        (query(&"x".repeat(201)), "query"),
        (
            SearchListingsRequest {
                order_by: SearchOrder::Distance.into(),
                ..SearchListingsRequest::default()
            },
            "order_by",
        ),
        (
            SearchListingsRequest {
                eligible_only: true,
                ..SearchListingsRequest::default()
            },
            "eligible_only",
        ),
        (
            SearchListingsRequest {
                categories: vec![99],
                ..SearchListingsRequest::default()
            },
            "categories[0]",
        ),
        (
            SearchListingsRequest {
                subcategories: vec!["astrologia".to_owned()],
                ..SearchListingsRequest::default()
            },
            "subcategories[0]",
        ),
        (
            SearchListingsRequest {
                served_istat_code: "015146".to_owned(),
                ..SearchListingsRequest::default()
            },
            "served_istat_code",
        ),
        (
            SearchListingsRequest {
                max_price: eur(-1),
                ..SearchListingsRequest::default()
            },
            "max_price",
        ),
        (
            SearchListingsRequest {
                beneficiary_age_years: Some(200),
                ..SearchListingsRequest::default()
            },
            "beneficiary_age_years",
        ),
        (
            SearchListingsRequest {
                page_token: "0badc0de".to_owned(),
                ..SearchListingsRequest::default()
            },
            "page_token",
        ),
        (
            SearchListingsRequest {
                quote_quantity: 5_000,
                ..SearchListingsRequest::default()
            },
            "quote_quantity",
        ),
    ];
    for (request, field) in cases {
        let status = world
            .server
            .client
            .search_listings(request)
            .await
            .expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert!(
            fields(&status).iter().any(|f| f.starts_with(field)),
            "{field}: {:?}",
            fields(&status)
        );
    }
}

/// Searches running all the while a listing is verified again and again (each time a new
/// version) never make a later search show an older one: whatever copies they keep, a search
/// that starts after a change has returned shows it.
async fn searches_racing_changes_never_show_an_older_version(store: SqlStore) {
    let mut world = world(store).await;
    let pool = world.publish(swimming()).await;
    world.server.indexer.rebuild().await.expect("rebuild");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searchers: Vec<_> = (0..4)
        .map(|_| {
            let mut client = world.server.client.clone();
            let stop = std::sync::Arc::clone(&stop);
            tokio::spawn(async move {
                let mut searches = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    client
                        .search_listings(query("piscina nuoto"))
                        .await
                        .expect("search");
                    searches += 1;
                }
                searches
            })
        })
        .collect();
    for _ in 0..40 {
        let verified = verify(&mut world, &pool.id).await;
        let found = search(&mut world, query("piscina nuoto")).await;
        assert_eq!(
            found.hits[0].listing.as_ref().expect("listing").etag,
            verified.etag
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for searcher in searchers {
        assert!(searcher.await.expect("searcher") > 0);
    }
}

/// A change written past every store of the service (as another process sharing an SQLite
/// file would) shows on SQLite once the outbox shows its row: until then the service serves the
/// copy it keeps, asking the store nothing, since nothing it counts has changed. On
/// PostgreSQL, which keeps no count, every search asks the store and sees it at once.
async fn a_change_written_elsewhere_shows_when_the_outbox_does(store: SqlStore) {
    use catalog_svc::store::{Backend, CatalogStore};
    let mut world = world(store).await;
    let pool = world.publish(swimming()).await;
    let (cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    let found = search(&mut world, query("piscina nuoto")).await;
    assert_eq!(titles(&found), std::slice::from_ref(&pool.title));
    let store = world.server.store.clone();
    sqlx::query("UPDATE providers SET status = 'suspended', version = version + 1 WHERE id = $1")
        .bind(world.provider_id.as_str())
        .execute(store.pool())
        .await
        .expect("suspend past the service");
    let found = search(&mut world, query("piscina nuoto")).await;
    match store.backend() {
        Backend::Sqlite => assert_eq!(
            titles(&found),
            std::slice::from_ref(&pool.title),
            "the kept copy, unread"
        ),
        Backend::Postgres => assert!(found.hits.is_empty(), "{found:?}"),
    }
    sqlx::query(
        "INSERT INTO outbox (topic, entity_id, kind, payload, created_at) \
         VALUES ('provider', $1, 'provider.suspended', '{}', 0)",
    )
    .bind(world.provider_id.as_str())
    .execute(store.pool())
    .await
    .expect("its outbox row");
    // The indexer's read of the outbox, before it changes the index.
    assert_eq!(
        store
            .outbox(cursor.position, 10)
            .await
            .expect("outbox")
            .len(),
        1
    );
    assert_eq!(world.server.index.len(), 1, "still in the index");
    let found = search(&mut world, query("piscina nuoto")).await;
    assert!(found.hits.is_empty(), "{found:?}");
}

/// A row that commits after rows with higher sequence numbers (PostgreSQL hands sequence values
/// out at insert time) is still applied: the cursor remembers the gap and looks for it again.
async fn a_late_outbox_row_is_still_applied(store: SqlStore) {
    let mut world = world(store).await;
    let (mut cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    let start = cursor.position;
    world.publish(swimming()).await;
    // Move the listing's rows ahead, leaving a hole where a slower transaction would commit.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET seq = seq + 10 WHERE seq > {start}"
    )))
    .execute(world.server.store.pool())
    .await
    .expect("move rows");
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    assert_eq!(world.server.index.len(), 1);
    assert_eq!(cursor.position, start + 13);
    assert_eq!(cursor.gaps.len(), 10, "the hole is remembered");
    // Another listing's rows commit inside the hole (PostgreSQL's sequence puts them there by
    // itself; on SQLite they are moved there).
    let late = world.draft(listening_line()).await;
    world.publish_draft(&late.id).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET seq = seq - 10 WHERE seq > {}",
        start + 13
    )))
    .execute(world.server.store.pool())
    .await
    .expect("commit late");
    let applied = world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    assert_eq!(applied, 3);
    assert_eq!(world.server.index.len(), 2);
    assert_eq!(cursor.gaps.len(), 7);
}

welfare_storage::on_every_backend!(
    support::open;
    searches_racing_changes_never_show_an_older_version,
    a_change_written_elsewhere_shows_when_the_outbox_does,
    a_late_outbox_row_is_still_applied,
    search_understands_people,
    a_situation_ranks_the_services_that_answer_it_first,
    with_a_profile_the_listings_one_may_use_come_first,
    the_indexer_follows_the_outbox,
    bad_search_input_is_named,
);
