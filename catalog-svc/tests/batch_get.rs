//! `BatchGetListings` on each backend: the listings asked, in order, as `GetListing` answers
//! them.

#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::store::SqlStore;
use support::*;
use tonic::Code;
use welfare_proto::catalog::*;

/// `BatchGetListings` answers every listing asked, in order, as `GetListing` would: a draft
/// only to its provider's operators, an unknown id NOT_FOUND naming it, every malformed id named
/// at once, and between 1 and 100 ids.
async fn listings_are_read_in_batches_as_one_by_one(store: SqlStore) {
    let mut world = world(store).await;
    let client = &mut world.server.client.clone();
    let pool = world.publish(swimming()).await;
    let care = world.publish(home_care()).await;
    let draft = world.draft(listening_line()).await;
    let ids = |ids: &[&str]| BatchGetListingsRequest {
        ids: ids.iter().map(|id| (*id).to_owned()).collect(),
    };
    let read = client
        .batch_get_listings(ids(&[&care.id, &pool.id, &care.id]))
        .await
        .expect("public listings, anonymously")
        .into_inner();
    let titles: Vec<&str> = read.listings.iter().map(|l| l.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            care.title.as_str(),
            pool.title.as_str(),
            care.title.as_str()
        ],
        "in the order asked"
    );
    let single = client
        .get_listing(GetListingRequest {
            id: pool.id.clone(),
        })
        .await
        .expect("one")
        .into_inner();
    assert_eq!(read.listings[1], single, "as GetListing answers");
    let hidden = client
        .batch_get_listings(call(ids(&[&pool.id, &draft.id]), &citizen()))
        .await
        .expect_err("a draft is not the citizen's to see");
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(hidden.message().contains(&draft.id), "{hidden:?}");
    let own = client
        .batch_get_listings(call(ids(&[&pool.id, &draft.id]), &world.operator.clone()))
        .await
        .expect("the provider's own draft")
        .into_inner();
    assert_eq!(own.listings.len(), 2);
    let unknown = "0190f0e8-0000-7000-8000-00000000dead";
    let missing = client
        .batch_get_listings(ids(&[&pool.id, unknown]))
        .await
        .expect_err("unknown");
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains(unknown), "{missing:?}");
    let malformed = client
        .batch_get_listings(ids(&[&pool.id, "not an id", "", &care.id]))
        .await
        .expect_err("malformed");
    assert_eq!(fields(&malformed), ["ids[1]", "ids[2]"]);
    let too_many: Vec<String> = (0..101).map(|_| pool.id.clone()).collect();
    for request in [
        BatchGetListingsRequest { ids: too_many },
        BatchGetListingsRequest::default(),
    ] {
        let refused = client
            .batch_get_listings(request)
            .await
            .expect_err("1 to 100");
        assert_eq!(fields(&refused), ["ids"]);
    }
    let hundred: Vec<String> = (0..100).map(|_| pool.id.clone()).collect();
    let all = client
        .batch_get_listings(BatchGetListingsRequest { ids: hundred })
        .await
        .expect("a hundred")
        .into_inner();
    assert_eq!(all.listings.len(), 100);
}

welfare_storage::on_every_backend!(
    support::open;
    listings_are_read_in_batches_as_one_by_one,
);
