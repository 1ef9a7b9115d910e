//! The catalogue service's composition root: from a configuration and a clock to the routes
//! the runtime serves and the indexer that keeps search current beside them. `catalog-svc`'s
//! `main` and the all-in-one process both start the service here.

use std::sync::Arc;
use std::time::Duration;

use welfare_core::territory::Territory;
use welfare_runtime::ServiceSet;
use welfare_runtime::clock::Clock;
use welfare_runtime::tasks::BackgroundTasks;

use crate::config::{CatalogConfig, SearchEngine};
use crate::grpc::CatalogApi;
use crate::search::SearchIndex;
use crate::search::embedded::EmbeddedIndex;
use crate::search::indexer::Indexer;
use crate::search::meili::{MeiliIndex, Tuning};
use crate::store::SqlStore;

/// The shortest pause of an idle indexer between two looks at the outbox.
pub const MIN_INDEX_INTERVAL: Duration = Duration::from_millis(50);

/// Why the service could not start, in one line a person understands.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// A started catalogue service: its routes, its indexer, and the store under them.
#[derive(Debug)]
pub struct Started {
    pub services: ServiceSet,
    pub tasks: BackgroundTasks,
    pub store: SqlStore,
}

/// The store and territory the configuration names (creating an SQLite file's directory).
pub async fn open_store(config: &CatalogConfig) -> Result<(SqlStore, Arc<Territory>), StartError> {
    let territory = config.territory.territory()?;
    welfare_storage::url::create_sqlite_dir(&config.database.url)?;
    let store = SqlStore::connect(&config.database.url, config.database.max_connections).await?;
    Ok((store, Arc::new(territory)))
}

/// Opens the store and the search index the configuration names, and starts the indexer on
/// `clock`.
pub async fn start(config: &CatalogConfig, clock: Clock) -> Result<Started, StartError> {
    let (store, territory) = open_store(config).await?;
    match config.search.engine {
        SearchEngine::Embedded => Ok(assemble(
            config,
            store,
            territory,
            EmbeddedIndex::new()?,
            clock,
        )),
        SearchEngine::Meilisearch => {
            let index =
                MeiliIndex::open(&config.search.meilisearch.adapter(), Tuning::Italian).await?;
            tracing::info!(index = index.uid(), "searching on Meilisearch");
            Ok(assemble(config, store, territory, index, clock))
        }
    }
}

fn assemble<I: SearchIndex>(
    config: &CatalogConfig,
    store: SqlStore,
    territory: Arc<Territory>,
    index: I,
    clock: Clock,
) -> Started {
    let indexer = Indexer::new(
        store.clone(),
        index.clone(),
        Arc::clone(&territory),
        clock.clone(),
    );
    let mut tasks = BackgroundTasks::default();
    let interval = Duration::from_millis(config.search.interval_ms).max(MIN_INDEX_INTERVAL);
    tasks.spawn("catalog-indexer", indexer.run(interval));
    let services = CatalogApi::new(store.clone(), index, territory, clock)
        .into_services(config.limits.max_message_bytes);
    Started {
        services,
        tasks,
        store,
    }
}
