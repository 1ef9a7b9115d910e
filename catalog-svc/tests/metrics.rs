//! The catalogue's domain metrics reach the meter provider: search latency on every
//! `SearchListings`, where its hits' listings came from, outbox rows applied and the outbox lag
//! from the indexer.

mod support;

use catalog_svc::metrics::{
    METRIC_HIT_LISTINGS, METRIC_OUTBOX_APPLIED, METRIC_OUTBOX_LAG, METRIC_SEARCH_DURATION,
};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use support::*;
use welfare_proto::catalog::SearchListingsRequest;

#[tokio::test]
async fn search_and_indexing_are_measured() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let mut world = world(sqlite().await).await;
    let (mut cursor, _) = world.server.indexer.rebuild().await.expect("rebuild");
    world.publish(swimming()).await;
    world
        .server
        .indexer
        .catch_up(&mut cursor)
        .await
        .expect("catch up");
    world
        .server
        .client
        .search_listings(SearchListingsRequest::default())
        .await
        .expect("search");

    provider.force_flush().expect("flush");
    let names: Vec<String> = exporter
        .get_finished_metrics()
        .expect("metrics")
        .iter()
        .flat_map(|resource| {
            resource
                .scope_metrics()
                .flat_map(|scope| scope.metrics().map(|m| m.name().to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    for name in [
        METRIC_SEARCH_DURATION,
        METRIC_HIT_LISTINGS,
        METRIC_OUTBOX_APPLIED,
        METRIC_OUTBOX_LAG,
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
}
