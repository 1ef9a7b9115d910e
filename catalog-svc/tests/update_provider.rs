//! `UpdateProvider` on each backend: new contacts take effect at once, a new identity sends the
//! provider back to the Ufficio di Piano and its listings out of search; only the provider's own
//! operators change it; every bad field is named and changes nothing.

#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::store::SqlStore;
use support::*;
use tonic::Code;
use welfare_core::provider::IDENTITY_CHANGED_REASON;
use welfare_proto::catalog::*;

fn update(provider: Provider, paths: &[&str]) -> UpdateProviderRequest {
    UpdateProviderRequest {
        provider: Some(provider),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        request_id: rid(),
    }
}

/// Whether a search for `listing`'s title finds it once the indexer has caught up.
async fn found_after_indexing(
    world: &World<SqlStore>,
    cursor: &mut catalog_svc::search::indexer::OutboxCursor,
    listing: &Listing,
) -> bool {
    world
        .server
        .indexer
        .catch_up(cursor)
        .await
        .expect("catch up");
    let response = world
        .server
        .client
        .clone()
        .search_listings(SearchListingsRequest {
            query: listing.title.clone(),
            ..SearchListingsRequest::default()
        })
        .await
        .expect("search")
        .into_inner();
    response
        .hits
        .iter()
        .any(|hit| hit.listing.as_ref().is_some_and(|l| l.id == listing.id))
}

async fn contacts_change_at_once_and_a_new_identity_is_vetted_again(store: SqlStore) {
    let mut world = world(store).await;
    let pool = world.publish(swimming()).await;
    let client = &mut world.server.client.clone();
    let mut cursor = world.server.indexer.rebuild().await.expect("rebuild").0;
    assert!(
        found_after_indexing(&world, &mut cursor, &pool).await,
        "published and found"
    );
    let read = client
        .get_provider(GetProviderRequest {
            id: world.provider_id.clone(),
        })
        .await
        .expect("read")
        .into_inner();

    // New contacts: at once, still approved.
    let mut changed = read.clone();
    changed.contact_email = "segreteria@melograno.it".to_owned();
    changed.contact_phone = "+39 0371 654321".to_owned();
    let request = update(changed, &["contact_email", "contact_phone"]);
    let contacts = client
        .update_provider(call(request.clone(), &world.operator))
        .await
        .expect("new contacts")
        .into_inner();
    assert_eq!(contacts.state(), provider::State::Approved);
    assert_eq!(contacts.contact_email, "segreteria@melograno.it");
    assert_eq!(contacts.website_url, read.website_url, "outside the mask");
    assert_ne!(contacts.etag, read.etag);
    // A retry answers the same; the same id with another change is refused.
    let again = client
        .update_provider(call(request.clone(), &world.operator))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again, contacts);
    let mut reused = request.clone();
    reused.provider.as_mut().expect("provider").contact_email = "altro@melograno.it".to_owned();
    let refused = client
        .update_provider(call(reused, &world.operator))
        .await
        .expect_err("a request id reused for another change");
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    // A stale etag: the change someone else made is not overwritten.
    let mut stale = read.clone();
    stale.contact_email = "vecchio@melograno.it".to_owned();
    let refused = client
        .update_provider(call(update(stale, &["contact_email"]), &world.operator))
        .await
        .expect_err("stale etag");
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(reason(&refused), "ETAG_MISMATCH");

    // A new tax code: pending again, out of the public catalogue and of search.
    let mut merged = contacts.clone();
    merged.tax_code = VAT_NUMBERS[5].to_owned();
    let pending = client
        .update_provider(call(update(merged, &["tax_code"]), &world.operator))
        .await
        .expect("new tax code")
        .into_inner();
    assert_eq!(pending.state(), provider::State::Pending);
    assert_eq!(pending.state_reason, IDENTITY_CHANGED_REASON);
    assert_eq!(pending.tax_code, VAT_NUMBERS[5]);
    let hidden = client
        .get_listing(GetListingRequest {
            id: pool.id.clone(),
        })
        .await
        .expect_err("its listings are not public meanwhile");
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(
        !found_after_indexing(&world, &mut cursor, &pool).await,
        "out of search"
    );
    let queue = client
        .list_providers(call(
            ListProvidersRequest {
                state: provider::State::Pending.into(),
                ..ListProvidersRequest::default()
            },
            &curator(),
        ))
        .await
        .expect("the curators' queue")
        .into_inner();
    assert_eq!(queue.providers.len(), 1);
    // Approved again: back in search.
    approve_provider(client, &world.provider_id).await;
    assert!(
        found_after_indexing(&world, &mut cursor, &pool).await,
        "found again"
    );

    // A suspended provider's suspension stands whatever it changes.
    let suspended = client
        .suspend_provider(call(
            SuspendProviderRequest {
                id: world.provider_id.clone(),
                reason: "Documentazione scaduta".to_owned(),
                request_id: rid(),
                etag: String::new(),
            },
            &curator(),
        ))
        .await
        .expect("suspend")
        .into_inner();
    let mut renamed = suspended.clone();
    renamed.display_name = "Il Melograno Onlus".to_owned();
    let still = client
        .update_provider(call(update(renamed, &["display_name"]), &world.operator))
        .await
        .expect("rename while suspended")
        .into_inner();
    assert_eq!(still.state(), provider::State::Suspended);
    assert_eq!(still.state_reason, "Documentazione scaduta");
}

async fn only_the_providers_operators_change_it_and_bad_fields_change_nothing(store: SqlStore) {
    let world = world(store).await;
    let client = &mut world.server.client.clone();
    let other = register(client, "Cooperativa Vicina", VAT_NUMBERS[1]).await;
    approve_provider(client, &other.id).await;
    let read = client
        .get_provider(call(
            GetProviderRequest {
                id: world.provider_id.clone(),
            },
            &world.operator,
        ))
        .await
        .expect("read")
        .into_inner();
    let mut changed = read.clone();
    changed.contact_email = "presa@altrove.it".to_owned();
    let attempt = update(changed.clone(), &["contact_email"]);
    for (who, code, why) in [
        (operator_of(&other.id), Code::PermissionDenied, "NOT_OWNER"),
        (curator(), Code::PermissionDenied, "ROLE_REQUIRED"),
        (citizen(), Code::PermissionDenied, "ROLE_REQUIRED"),
    ] {
        let refused = client
            .update_provider(call(attempt.clone(), &who))
            .await
            .expect_err("not theirs to change");
        assert_eq!((refused.code(), reason(&refused).as_str()), (code, why));
    }
    let refused = client
        .update_provider(attempt.clone())
        .await
        .expect_err("anonymous");
    assert_eq!(refused.code(), Code::Unauthenticated);
    // A provider the caller may not see: not found, as if it did not exist.
    let pending = register(client, "Cooperativa In Attesa", VAT_NUMBERS[2]).await;
    let mut hidden = pending.clone();
    hidden.contact_email = "x@y.it".to_owned();
    let refused = client
        .update_provider(call(
            update(hidden, &["contact_email"]),
            &operator_of(&other.id),
        ))
        .await
        .expect_err("a pending provider of someone else");
    assert_eq!(reason(&refused), "PROVIDER_NOT_FOUND");

    // Every bad field at once, named; nothing changes.
    let mut bad = read.clone();
    bad.contact_email = "non è un indirizzo".to_owned();
    bad.tax_code = "01234560984".to_owned();
    bad.website_url = "http://insicuro.it".to_owned();
    let refused = client
        .update_provider(call(
            update(bad, &["contact_email", "tax_code", "website_url"]),
            &world.operator,
        ))
        .await
        .expect_err("bad fields");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&refused),
        [
            "provider.tax_code",
            "provider.contact_email",
            "provider.website_url"
        ]
    );
    let mut outside = read.clone();
    outside.comune_istat_code = "015146".to_owned();
    outside.kind = ProviderKind::Comune.into();
    let refused = client
        .update_provider(call(
            update(outside, &["kind", "comune_istat_code"]),
            &world.operator,
        ))
        .await
        .expect_err("a comune outside the Ambito");
    assert_eq!(fields(&refused), ["provider.comune_istat_code"]);
    let mut masked = update(read.clone(), &["state", "display_name", "id"]);
    masked.request_id = String::new();
    masked.provider.as_mut().expect("provider").id = "not an id".to_owned();
    let refused = client
        .update_provider(call(masked, &world.operator))
        .await
        .expect_err("bad request");
    assert_eq!(
        fields(&refused),
        [
            "provider.id",
            "request_id",
            "update_mask.paths[0]",
            "update_mask.paths[2]"
        ]
    );
    // Another provider's tax code: taken.
    let mut twin = read.clone();
    twin.tax_code = VAT_NUMBERS[1].to_owned();
    let refused = client
        .update_provider(call(update(twin, &["tax_code"]), &world.operator))
        .await
        .expect_err("a tax code taken");
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(reason(&refused), "TAX_CODE_TAKEN");
    let after = client
        .get_provider(call(
            GetProviderRequest {
                id: world.provider_id.clone(),
            },
            &world.operator,
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(after, read, "nothing changed");
}

welfare_storage::on_every_backend!(
    support::open;
    contacts_change_at_once_and_a_new_identity_is_vetted_again,
    only_the_providers_operators_change_it_and_bad_fields_change_nothing,
);
