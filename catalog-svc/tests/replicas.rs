//! Several catalogue processes on one PostgreSQL database, as a Deployment with replicas runs
//! them, while listings are published and withdrawn: the replica writing the search index is
//! killed with SIGKILL in the middle of the stream, and still every surviving replica's search
//! ends up answering exactly the public listings.
//!
//! - Each with an index of its own (the embedded engine; always run): every replica follows the
//!   outbox into its own index; the killed one's loss is nobody's.
//! - Sharing one Meilisearch index (run when `MEILI_URL` names a server, reported skipped
//!   otherwise): one replica at a time writes it, holding the indexer lease; the others take
//!   over within seconds of the writer's death and go on from the stored position — no
//!   rebuild, nothing lost — and a replica started against the current index resumes rather
//!   than rebuilding it.
#![allow(clippy::indexing_slicing, clippy::print_stdout, clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use catalog_svc::store::{CatalogStore, ConsumerKind, SqlStore};
use support::*;
use tonic::transport::Channel;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::*;
use welfare_storage::testing::{fresh_postgres_url, unique_name};

/// Replicas started on the same database.
const REPLICAS: usize = 3;
/// Listings public before the replicas start.
const SEEDED: usize = 8;
/// Listings published while they run (every fourth published one is withdrawn later).
const STREAMED: usize = 32;
/// The write after which the writer is killed.
const KILL_AT: usize = 12;
/// How long replicas have to agree with the catalogue.
const CONVERGE: Duration = Duration::from_secs(60);

/// A `catalog-svc` process, killed when dropped, its log in a file.
struct Replica {
    child: Child,
    log: PathBuf,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill_hard(&mut self) {
        let sent = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let _ = self.child.wait();
    }

    async fn client(&self) -> CatalogServiceClient<Channel> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match CatalogServiceClient::connect(self.url.clone()).await {
                Ok(client) => return client,
                Err(error) if Instant::now() > deadline => panic!("{error}: {}", self.log()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The ids of every listing this replica's search answers with.
    async fn searchable(&self) -> Result<BTreeSet<String>, tonic::Status> {
        let found = self
            .client()
            .await
            .search_listings(call(
                SearchListingsRequest {
                    page_size: 100,
                    ..SearchListingsRequest::default()
                },
                &citizen(),
            ))
            .await?
            .into_inner();
        Ok(found
            .hits
            .into_iter()
            .filter_map(|hit| hit.listing.map(|listing| listing.id))
            .collect())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The search engine the replicas share, or not.
#[derive(Clone)]
enum Engine {
    Embedded,
    Meilisearch(catalog_svc::search::meili::MeiliConfig),
}

fn replica(database: &str, engine: &Engine) -> Replica {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("{}.log", unique_name("catalog_replica")));
    let mut command = Command::new(env!("CARGO_BIN_EXE_catalog-svc"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LODIWELFARE__SERVER__LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("LODIWELFARE__DATABASE__URL", database)
        .env("LODIWELFARE__DATABASE__MAX_CONNECTIONS", "4")
        .env("LODIWELFARE__AUTH__HS256_SECRET", SECRET)
        .env("LODIWELFARE__LIMITS__RATE_LIMIT_PER_SECOND", "100000")
        .env("LODIWELFARE__LIMITS__RATE_LIMIT_BURST", "100000")
        .env("LODIWELFARE__SEARCH__INTERVAL_MS", "100")
        .env("RUST_LOG", "info")
        // The log goes to standard output; failures to start, to standard error.
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::inherit());
    match engine {
        Engine::Embedded => {
            command.env("LODIWELFARE__SEARCH__ENGINE", "embedded");
        }
        Engine::Meilisearch(config) => {
            command
                .env("LODIWELFARE__SEARCH__ENGINE", "meilisearch")
                .env("LODIWELFARE__SEARCH__MEILISEARCH__URL", &config.url)
                .env("LODIWELFARE__SEARCH__MEILISEARCH__INDEX", &config.index)
                .env(
                    "LODIWELFARE__SEARCH__MEILISEARCH__API_KEY",
                    config.api_key.clone().unwrap_or_default(),
                );
        }
    }
    Replica {
        child: command.spawn().expect("start catalog-svc"),
        log,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Waits until every replica's search answers exactly `expected`.
async fn converge(replicas: &[&Replica], expected: &BTreeSet<String>, what: &str) -> Duration {
    let started = Instant::now();
    for replica in replicas {
        loop {
            let found = replica.searchable().await;
            if found.as_ref().is_ok_and(|found| found == expected) {
                break;
            }
            assert!(
                started.elapsed() < CONVERGE,
                "{what}: a replica answers {found:?}, the catalogue has {} public listings:\n{}",
                expected.len(),
                replica.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    started.elapsed()
}

/// A listing whose title no other listing shares.
fn listing(n: usize) -> Listing {
    Listing {
        title: format!("Laboratorio creativo numero {n}"),
        ..swimming()
    }
}

async fn withdraw<I: catalog_svc::search::SearchIndex>(world: &mut World<SqlStore, I>, id: &str) {
    world
        .server
        .client
        .withdraw_listing(call(
            WithdrawListingRequest {
                id: id.to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &world.operator.clone(),
        ))
        .await
        .expect("withdraw");
}

/// Publishes [`SEEDED`] listings, starts the replicas, streams publications and withdrawals
/// while killing the replica `writer` picks, and checks the survivors converge. Answers the
/// world, the survivors and the public listings.
async fn run_replicas(
    engine: &Engine,
) -> (World<SqlStore>, Vec<Replica>, BTreeSet<String>, String) {
    let database = fresh_postgres_url("catalog_replicas").await;
    let store = SqlStore::connect(&database, 4).await.expect("store");
    let mut world = world(store).await;
    // The replicas read the real clock: the listings are verified today.
    world.server.clock.advance_to_today();
    let mut public = BTreeSet::new();
    for n in 0..SEEDED {
        public.insert(world.publish(listing(n)).await.id);
    }
    let mut replicas: Vec<Replica> = (0..REPLICAS).map(|_| replica(&database, engine)).collect();
    converge(&replicas.iter().collect::<Vec<_>>(), &public, "at start").await;
    let writer = match engine {
        Engine::Embedded => 0,
        Engine::Meilisearch(_) => {
            let writers: Vec<usize> = (0..REPLICAS)
                .filter(|n| replicas[*n].log().contains("writing the search index"))
                .collect();
            assert_eq!(writers.len(), 1, "one writer of the shared index");
            // Searches are answered as soon as the new index is swapped in; the writer is done
            // once it stored the index's position and stamped it.
            let deadline = Instant::now() + CONVERGE;
            while !replicas[writers[0]].log().contains("search index built") {
                assert!(Instant::now() < deadline, "{}", replicas[writers[0]].log());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            writers[0]
        }
    };
    let mut published = Vec::new();
    let mut killed_at = None;
    for n in SEEDED..SEEDED + STREAMED {
        let id = world.publish(listing(n)).await.id;
        public.insert(id.clone());
        published.push(id);
        if n % 4 == 0 {
            let gone = published.remove(0);
            withdraw(&mut world, &gone).await;
            public.remove(&gone);
        }
        if n == SEEDED + KILL_AT {
            replicas[writer].kill_hard();
            killed_at = Some(Instant::now());
        }
    }
    let killed = replicas.remove(writer);
    if let (Engine::Meilisearch(_), Some(at)) = (engine, killed_at) {
        while !replicas
            .iter()
            .any(|r| r.log().contains("writing the search index"))
        {
            assert!(
                at.elapsed() < Duration::from_secs(10),
                "no replica took the lease over"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!(
            "a survivor took the indexer lease over {:?} after the kill",
            at.elapsed()
        );
    }
    let survivors: Vec<&Replica> = replicas.iter().collect();
    let took = converge(&survivors, &public, "after the writer was killed").await;
    println!(
        "survivors agreed with the catalogue {took:?} after the last write, {:?} after the kill",
        killed_at.map(|at| at.elapsed())
    );
    let killed_log = killed.log();
    drop(killed);
    (world, replicas, public, killed_log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_their_own_indexes_stay_current_though_one_is_killed() {
    let engine = Engine::Embedded;
    let (world, replicas, public, _) = run_replicas(&engine).await;
    // Each replica registered its own index among the outbox's consumers.
    let consumers = world.server.store.consumers().await.expect("consumers");
    assert_eq!(consumers.len(), REPLICAS, "{consumers:?}");
    assert!(
        consumers.iter().all(
            |c| c.kind == ConsumerKind::Replica && c.name.starts_with("search-index/embedded/")
        )
    );
    // A replica started now builds its own index and agrees too.
    let late = replica(&database_of(&world).await, &engine);
    converge(&[&late], &public, "a replica started late").await;
    assert!(late.log().contains("search index built"), "{}", late.log());
    drop(replicas);
}

/// The URL of the database the world's store is on.
async fn database_of(world: &World<SqlStore>) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(world.server.store.pool())
        .await
        .expect("database");
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (base, _) = admin.rsplit_once('/').expect("a url with a path");
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_meilisearch_replace_a_killed_writer_without_a_rebuild() {
    let config = meili_config("replicas");
    let _own = own_indexes(&config);
    let engine = Engine::Meilisearch(config.clone());
    let (world, replicas, public, killed_log) = run_replicas(&engine).await;
    assert!(killed_log.contains("search index built"), "{killed_log}");
    let store = &world.server.store;
    let consumer = format!("search-index/meilisearch/{}", config.index);
    let before = store
        .consumer(&consumer)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(before.kind, ConsumerKind::Shared);
    // One survivor took the lease over, and resumed from the stored position: no rebuild.
    let takers: Vec<&Replica> = replicas
        .iter()
        .filter(|r| r.log().contains("writing the search index"))
        .collect();
    assert_eq!(takers.len(), 1, "one new writer");
    let log = takers[0].log();
    assert!(log.contains("resuming from its stored position"), "{log}");
    assert!(!log.contains("search index built"), "{log}");
    // The stored position reached the end of the outbox.
    let newest = store.outbox_position().await.expect("position");
    let deadline = Instant::now() + CONVERGE;
    loop {
        let stored = store
            .consumer(&consumer)
            .await
            .expect("read")
            .expect("stored");
        if stored.cursor.position == newest {
            assert_eq!(stored.stamp, before.stamp, "never rebuilt");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored position {stored:?}, newest {newest}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every replica stopped; one started against the current index resumes it.
    drop(replicas);
    let alone = replica(&database_of(&world).await, &engine);
    converge(&[&alone], &public, "a replica started alone").await;
    let log = alone.log();
    assert!(log.contains("resuming from its stored position"), "{log}");
    assert!(!log.contains("search index built"), "{log}");
    let after = store
        .consumer(&consumer)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(after.stamp, before.stamp, "the index was not rebuilt");
    drop(alone);
    catalog_svc::search::meili::MeiliIndex::open(
        &config,
        catalog_svc::search::meili::Tuning::Italian,
    )
    .await
    .expect("open")
    .delete()
    .await
    .expect("delete the run's index");
}
