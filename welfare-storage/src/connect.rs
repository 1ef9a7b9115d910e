//! One pool per backend, with one set of settings, and the service's migrations applied.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migrator};

use crate::url::{Backend, UnsupportedUrl};

/// How long a caller waits for a pooled connection before the call fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an SQLite writer waits for the file's one write lock before failing.
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;
/// The most connections an SQLite pool keeps (readers beside the one writer).
pub const MAX_SQLITE_CONNECTIONS: u32 = 8;

/// How the writers of an SQLite file are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteWriters {
    /// One connection does everything: transactions that read then write are serialised
    /// whole (the ledger's, whose correctness on SQLite rests on it).
    One,
    /// Up to [`MAX_SQLITE_CONNECTIONS`] (and the pool's maximum): readers run beside the one
    /// writer in WAL mode; writers wait for each other up to the busy timeout.
    Shared,
}

/// A service's connection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The pool's size on PostgreSQL (at least 1), and its bound on SQLite when `Shared`.
    pub max_connections: u32,
    pub sqlite_writers: SqliteWriters,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Url(#[from] UnsupportedUrl),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] MigrateError),
}

/// Opens a pool on the database `url` names and applies the service's migrations for that
/// backend (`postgres` or `sqlite`, from the service's `sqlx::migrate!`).
///
/// SQLite connections run with foreign keys on, WAL, `synchronous = NORMAL` and a busy timeout
/// of [`SQLITE_BUSY_TIMEOUT_MS`]; they are not pinged before each use (a connection to a file
/// in this process cannot drop, and a ping is a round trip to its worker thread). PostgreSQL
/// connections are pinged, so connections the server dropped are replaced.
pub async fn connect(
    url: &str,
    settings: Settings,
    postgres: &Migrator,
    sqlite: &Migrator,
) -> Result<(AnyPool, Backend), ConnectError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url)?;
    let options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    let pool = match backend {
        Backend::Postgres => {
            options
                .max_connections(settings.max_connections.max(1))
                .connect(url)
                .await?
        }
        Backend::Sqlite => {
            let connections = match settings.sqlite_writers {
                SqliteWriters::One => 1,
                SqliteWriters::Shared => settings.max_connections.clamp(1, MAX_SQLITE_CONNECTIONS),
            };
            options
                .max_connections(connections)
                .test_before_acquire(false)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        for pragma in [
                            "PRAGMA foreign_keys = ON".to_owned(),
                            "PRAGMA journal_mode = WAL".to_owned(),
                            format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
                            "PRAGMA synchronous = NORMAL".to_owned(),
                        ] {
                            sqlx::query(sqlx::AssertSqlSafe(pragma))
                                .execute(&mut *connection)
                                .await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
                .await?
        }
    };
    match backend {
        Backend::Postgres => postgres.run(&pool).await?,
        Backend::Sqlite => sqlite.run(&pool).await?,
    }
    Ok((pool, backend))
}
