//! The catalogue service's composition root: from a configuration and a clock to the routes
//! the runtime serves and the indexer that keeps search current beside them. `catalog-svc`'s
//! `main` and the all-in-one process both start the service here.

use std::sync::Arc;
use std::time::Duration;

use welfare_core::territory::Territory;
use welfare_runtime::ServiceSet;
use welfare_runtime::clock::Clock;
use welfare_runtime::tasks::BackgroundTasks;

use welfare_proto::catalog as pb;
use welfare_proto::catalog::catalog_service_server::CatalogService;

use crate::config::{CatalogConfig, SearchEngine};
use crate::grpc::CatalogApi;
use crate::local_words::LocalWords;
use crate::search::SearchIndex;
use crate::search::embedded::EmbeddedIndex;
use crate::search::indexer::Indexer;
use crate::search::meili::{MeiliIndex, Tuning};
use crate::store::{CatalogStore, SqlStore};

/// The shortest pause of an idle indexer between two looks at the outbox.
pub const MIN_INDEX_INTERVAL: Duration = Duration::from_millis(50);

/// Why the service could not start, in one line a person understands.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// A started catalogue service: its routes, its indexer, the store under them, and its
/// `GetListing` as a function for a process that calls it without the network.
#[derive(Debug)]
pub struct Started {
    pub services: ServiceSet,
    pub tasks: BackgroundTasks,
    pub store: SqlStore,
    pub get_listing: GetListing,
}

/// The catalogue's `GetListing` handler, called in process: the request carries its caller's
/// `Principal` in its extensions, as the authentication layer leaves it.
#[derive(Clone)]
pub struct GetListing(Arc<dyn Fn(ListingRequest) -> ListingAnswer + Send + Sync>);

type ListingRequest = tonic::Request<pb::GetListingRequest>;
type ListingAnswer = std::pin::Pin<
    Box<dyn Future<Output = Result<tonic::Response<pb::Listing>, tonic::Status>> + Send>,
>;

impl GetListing {
    pub async fn call(
        &self,
        request: tonic::Request<pb::GetListingRequest>,
    ) -> Result<tonic::Response<pb::Listing>, tonic::Status> {
        (self.0)(request).await
    }
}

impl std::fmt::Debug for GetListing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GetListing")
    }
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
    let words = LocalWords::default();
    let indexer = Indexer::new(
        store.clone(),
        index.clone(),
        Arc::clone(&territory),
        clock.clone(),
        words.clone(),
    );
    crate::metrics::init();
    let mut tasks = BackgroundTasks::default();
    let interval = Duration::from_millis(config.search.interval_ms).max(MIN_INDEX_INTERVAL);
    // Searching answers from the index: the service is SERVING once it is built.
    let (ready, built) = tokio::sync::watch::channel(false);
    tasks.spawn(crate::metrics::INDEXER_TASK, indexer.run(interval, ready));
    tasks.spawn(
        crate::retention::RETENTION_TASK,
        crate::retention::run(store.clone(), clock.clone(), config.retention.clone()),
    );
    let api = CatalogApi::new(store.clone(), index, territory, clock, words);
    let handler = api.clone();
    let get_listing = GetListing(Arc::new(move |request| {
        let api = handler.clone();
        Box::pin(async move { api.get_listing(request).await })
    }));
    let services = api
        .into_services(config.limits.max_message_bytes)
        .ready_when(crate::grpc::SERVICE_NAME, built);
    Started {
        services,
        tasks,
        store,
        get_listing,
    }
}

/// What a rebuild of the Meilisearch index did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    pub index: String,
    pub documents: usize,
    pub seconds: f64,
}

impl std::fmt::Display for Rebuilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "index {} rebuilt with {} listings in {:.1} s",
            self.index, self.documents, self.seconds
        )
    }
}

/// What an operator's rebuild of the Meilisearch index did.
#[derive(Debug, Clone, PartialEq)]
pub enum RebuildOutcome {
    /// Rebuilt here, holding the indexer lease.
    Rebuilt(Rebuilt),
    /// A serving catalogue holds the lease: the index's stamp was forgotten, and that writer
    /// rebuilds it within [`crate::search::indexer::roles::HEARTBEAT_EVERY`].
    Requested { index: String },
}

impl std::fmt::Display for RebuildOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildOutcome::Rebuilt(rebuilt) => rebuilt.fmt(f),
            RebuildOutcome::Requested { index } => write!(
                f,
                "index {index} is written by a serving catalogue: its stamp was forgotten, and \
                 that catalogue rebuilds it within {} s (searches go on meanwhile)",
                crate::search::indexer::roles::HEARTBEAT_EVERY.as_secs()
            ),
        }
    }
}

/// Rebuilds the Meilisearch index from the catalogue — a new index filled, then swapped in —
/// for operators: here when no serving catalogue writes it (this takes the indexer lease),
/// else by asking the one that does. The embedded index lives in the serving process and is
/// rebuilt at every start: asked of it, this is refused with that explanation.
pub async fn rebuild_index(
    config: &CatalogConfig,
    clock: Clock,
) -> Result<RebuildOutcome, StartError> {
    if config.search.engine == SearchEngine::Embedded {
        return Err(
            "search.engine is \"embedded\": the embedded index lives in the serving \
                    process and is rebuilt at every start; a rebuild is for Meilisearch"
                .into(),
        );
    }
    let (store, territory) = open_store(config).await?;
    let index = MeiliIndex::open(&config.search.meilisearch.adapter(), Tuning::Italian).await?;
    let indexer = Indexer::new(
        store.clone(),
        index.clone(),
        territory,
        clock,
        LocalWords::default(),
    );
    let Some(_lease) = store.lease(&indexer.consumer()).await? else {
        index.forget_stamp().await?;
        tracing::info!(
            index = index.uid(),
            "a serving catalogue writes the index: asked it to rebuild"
        );
        return Ok(RebuildOutcome::Requested {
            index: index.uid().to_owned(),
        });
    };
    let started = std::time::Instant::now();
    let (cursor, documents) = indexer.rebuild().await?;
    let rebuilt = Rebuilt {
        index: index.uid().to_owned(),
        documents,
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        index = rebuilt.index,
        documents,
        outbox_position = cursor.position,
        seconds = rebuilt.seconds,
        "search index rebuilt and swapped in"
    );
    Ok(RebuildOutcome::Rebuilt(rebuilt))
}
