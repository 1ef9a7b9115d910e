//! Leases on every backend: one holder at a time, taken over once the holder lets go or its
//! session dies.

use sqlx::AnyPool;
use welfare_storage::Backend;
use welfare_storage::lease::Lease;
use welfare_storage::testing::{fresh_postgres_url, fresh_sqlite_url};

async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("connect")
}

async fn fresh(backend: Backend) -> (String, AnyPool, AnyPool) {
    let url = match backend {
        Backend::Postgres => fresh_postgres_url("lease").await,
        Backend::Sqlite => fresh_sqlite_url("lease", "x.db"),
    };
    // Two pools stand for two processes.
    let (one, two) = (pool(&url).await, pool(&url).await);
    (url, one, two)
}

async fn one_holder_at_a_time(backend: Backend) {
    let (url, one, two) = fresh(backend).await;
    let mut first = Lease::try_acquire(&one, &url, "indexer")
        .await
        .expect("ask")
        .expect("nobody holds it");
    assert_eq!(first.name(), "indexer");
    first.check().await.expect("held");
    assert!(
        Lease::try_acquire(&two, &url, "indexer")
            .await
            .expect("ask")
            .is_none(),
        "a second holder"
    );
    let other = Lease::try_acquire(&two, &url, "another role")
        .await
        .expect("ask");
    assert!(other.is_some(), "leases of other names are independent");
    drop(first);
    let second = Lease::try_acquire(&two, &url, "indexer")
        .await
        .expect("ask");
    assert!(second.is_some(), "taken over once let go");
}

#[tokio::test]
async fn sqlite_one_holder_at_a_time() {
    one_holder_at_a_time(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_one_holder_at_a_time() {
    one_holder_at_a_time(Backend::Postgres).await;
}

#[tokio::test]
async fn an_in_memory_database_has_one_process_which_holds_every_lease() {
    let url = "sqlite::memory:";
    let pool = pool(url).await;
    let mut lease = Lease::try_acquire(&pool, url, "indexer")
        .await
        .expect("ask")
        .expect("held");
    lease.check().await.expect("held");
}

#[tokio::test]
async fn a_postgres_lease_whose_session_dies_is_lost_and_taken_over() {
    let (url, one, two) = fresh(Backend::Postgres).await;
    let mut first = Lease::try_acquire(&one, &url, "indexer")
        .await
        .expect("ask")
        .expect("held");
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&two)
    .await
    .expect("terminate the holder's session");
    assert_eq!(terminated, vec![true]);
    let mut taken = None;
    for _ in 0..50 {
        taken = Lease::try_acquire(&two, &url, "indexer")
            .await
            .expect("ask");
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(taken.is_some(), "taken over after the session died");
    let lost = first
        .check()
        .await
        .expect_err("the first holder learns it lost it");
    assert!(lost.to_string().contains("lease indexer"), "{lost}");
}

#[tokio::test]
async fn a_lock_file_that_cannot_be_made_is_an_error_naming_it() {
    let url = "sqlite:///nonexistent-dir-of-lodiwelfare/x.db?mode=ro";
    let pool = pool("sqlite::memory:").await;
    let error = Lease::try_acquire(&pool, url, "indexer")
        .await
        .expect_err("no directory");
    assert!(
        error
            .to_string()
            .contains("/nonexistent-dir-of-lodiwelfare/x.db.lease-indexer"),
        "{error}"
    );
}
