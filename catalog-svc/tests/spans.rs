//! Database and index calls are spans of their own, children of the call that makes them, with
//! the OpenTelemetry attributes a trace viewer groups them by (`db.system.name`). In a test
//! binary of its own: it installs the process's subscriber.

mod support;

use catalog_svc::search::embedded::EmbeddedIndex;
use catalog_svc::search::{IndexQuery, SearchIndex};
use catalog_svc::store::CatalogStore;
use opentelemetry::trace::TracerProvider as _;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "current_thread")]
async fn store_and_index_calls_are_child_spans() {
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let store = support::sqlite().await;
    let index = EmbeddedIndex::new().expect("index");
    async {
        store.outbox_position().await.expect("position");
        index
            .search(&IndexQuery::everything(0, 10))
            .await
            .expect("search");
    }
    .instrument(tracing::info_span!("caller"))
    .await;
    // SQLite's worker thread holds the span of the call that sent it a command until it has
    // run it: the store's span (and the caller's above it) may close a moment after the call
    // returns. Wait for them, a few seconds at most.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let finished = loop {
        provider.force_flush().expect("flush");
        let finished = spans.get_finished_spans().expect("spans");
        let closed = |name: &str| finished.iter().any(|s| s.name == name);
        if closed("caller") || std::time::Instant::now() > deadline {
            break finished;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let names: Vec<&str> = finished.iter().map(|s| s.name.as_ref()).collect();
    let caller = finished
        .iter()
        .rev()
        .find(|s| s.name == "caller")
        .unwrap_or_else(|| panic!("no caller span among {names:?}"));
    let child = |name: &str| {
        finished
            .iter()
            .rev()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name} among {names:?}"))
    };
    let read = child("catalog.store.outbox_position");
    assert_eq!(read.parent_span_id, caller.span_context.span_id());
    assert!(
        read.attributes
            .iter()
            .any(|kv| kv.key.as_str() == "db.system.name" && kv.value.as_str() == "sqlite"),
        "{:?}",
        read.attributes
    );
    let searched = child("search.embedded.search");
    assert_eq!(searched.parent_span_id, caller.span_context.span_id());
}
