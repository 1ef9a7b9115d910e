//! The indexer's start: an index bearing the stamp stored with the indexer's position is
//! resumed from that position — nothing rebuilt, nothing written meanwhile missed — and an
//! index that lost its stamp is built again. On both backends.

mod support;

use std::time::Duration;

use catalog_svc::search::SearchIndex;
use catalog_svc::store::{CatalogStore, ConsumerKind, SqlStore};
use support::*;

/// Runs the world's indexer until it says it is ready, then until `until` holds.
async fn run_indexer_until<F: Fn(&catalog_svc::store::ConsumerRecord) -> bool>(
    world: &World<SqlStore>,
    until: F,
) -> catalog_svc::store::ConsumerRecord {
    let (ready, mut built) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(
        world
            .server
            .indexer
            .clone()
            .run(Duration::from_millis(20), ready),
    );
    built.wait_for(|ready| *ready).await.expect("ready");
    let name = world.server.indexer.consumer();
    let record = loop {
        if let Some(record) = world.server.store.consumer(&name).await.expect("read")
            && until(&record)
        {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    task.abort();
    let _ = task.await;
    record
}

async fn an_indexer_resumes_a_current_index_and_rebuilds_a_lost_one(store: SqlStore) {
    let mut world = world(store).await;
    let first = world.publish(swimming()).await;
    let started = run_indexer_until(&world, |_| true).await;
    assert_eq!(started.kind, ConsumerKind::Replica);
    let stamp = world.server.index.stamp().await.expect("stamp");
    assert_eq!(stamp.as_deref(), Some(started.stamp.as_str()));
    // Written while no indexer runs; then an indexer starts on the same index.
    let second = world.publish(home_care()).await;
    let newest = world
        .server
        .store
        .outbox_position()
        .await
        .expect("position");
    let resumed = run_indexer_until(&world, |r| r.cursor.position == newest).await;
    assert_eq!(resumed.stamp, started.stamp, "resumed, not rebuilt");
    assert_eq!(world.server.index.len(), 2, "{} {}", first.id, second.id);
    // An index whose stamp is not the stored one is built again.
    world
        .server
        .index
        .set_stamp("another")
        .await
        .expect("stamp");
    let rebuilt = run_indexer_until(&world, |_| true).await;
    assert_ne!(rebuilt.stamp, started.stamp, "rebuilt under a new stamp");
    assert_eq!(
        world.server.index.stamp().await.expect("stamp").as_deref(),
        Some(rebuilt.stamp.as_str())
    );
    assert_eq!(world.server.index.len(), 2);
}

welfare_storage::on_every_backend!(
    support::open;
    an_indexer_resumes_a_current_index_and_rebuilds_a_lost_one,
);
