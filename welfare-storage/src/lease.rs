//! Leases: a named role at most one process of a deployment plays at a time (the one search
//! indexer writing a shared index), let go when that process dies, however it dies.
//!
//! Nothing here is home-made consensus: on PostgreSQL a lease is a session-level advisory lock
//! (`pg_try_advisory_lock`) held on a connection of its own, outside the pool, so the server
//! lets it go the moment that connection closes — a process killed with SIGKILL included; on an
//! SQLite file it is the operating system's exclusive lock on a file beside the database
//! (`File::try_lock`), let go by the kernel when the process ends. An in-memory SQLite database
//! belongs to one process, which always holds every lease on it.
//!
//! A holder calls [`Lease::check`] before each step it must take alone: on PostgreSQL this is
//! a round trip on the lease's connection, which answers only while the session — and so the
//! lock — is alive.

use std::time::Duration;

use sqlx::{AnyConnection, AnyPool, Connection};

use crate::url::{Backend, sqlite_file};

/// How long [`Lease::check`] waits for the server before taking the lease for lost.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a lease could not be taken or is no longer held.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(transparent)]
    Url(#[from] crate::url::UnsupportedUrl),
    #[error("lease {name}: database: {source}")]
    Database {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("lease {name}: lock file {path}: {source}")]
    File {
        name: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The lease's connection did not answer within [`CHECK_TIMEOUT`].
    #[error("lease {name}: the database did not answer within {CHECK_TIMEOUT:?}")]
    Unanswered { name: String },
}

/// A lease held by this process until dropped.
#[derive(Debug)]
pub struct Lease {
    name: String,
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// The connection whose session holds the advisory lock.
    Postgres(AnyConnection),
    /// The open lock file, locked until closed.
    File { _locked: std::fs::File },
    /// An in-memory database: one process only.
    Memory,
}

/// The advisory lock key of a lease name: FNV-1a over the name, the same in every process and
/// every build (a hasher of the standard library promises neither).
pub fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "lodiwelfare-lease:".bytes().chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

/// The lock file of lease `name` on the SQLite file `database`: beside it, named after both.
pub fn lock_file(database: &std::path::Path, name: &str) -> std::path::PathBuf {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut file = database.as_os_str().to_owned();
    file.push(format!(".lease-{safe}"));
    std::path::PathBuf::from(file)
}

impl Lease {
    /// Takes the lease `name` on the database of `pool` (opened from `url`) if nobody holds it:
    /// `None` when another process does.
    pub async fn try_acquire(
        pool: &AnyPool,
        url: &str,
        name: &str,
    ) -> Result<Option<Lease>, LeaseError> {
        let database = |source| LeaseError::Database {
            name: name.to_owned(),
            source,
        };
        let held = match Backend::of_url(url)? {
            Backend::Postgres => {
                let mut connection = pool.acquire().await.map_err(database)?.detach();
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(advisory_key(name))
                    .fetch_one(&mut connection)
                    .await
                    .map_err(database)?;
                if !taken {
                    let _ = connection.close().await;
                    return Ok(None);
                }
                Held::Postgres(connection)
            }
            Backend::Sqlite => match sqlite_file(url) {
                None => Held::Memory,
                Some(file) => {
                    let path = lock_file(&file, name);
                    let failed = |source| LeaseError::File {
                        name: name.to_owned(),
                        path: path.display().to_string(),
                        source,
                    };
                    let lock = std::fs::File::options()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)
                        .map_err(failed)?;
                    match lock.try_lock() {
                        Ok(()) => Held::File { _locked: lock },
                        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                        Err(std::fs::TryLockError::Error(error)) => return Err(failed(error)),
                    }
                }
            },
        };
        Ok(Some(Lease {
            name: name.to_owned(),
            held,
        }))
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the lease is still held: an error means it may not be (the database dropped
    /// the session), and the holder must stop acting alone and let it go.
    pub async fn check(&mut self) -> Result<(), LeaseError> {
        match &mut self.held {
            Held::Postgres(connection) => {
                let answered = tokio::time::timeout(
                    CHECK_TIMEOUT,
                    sqlx::query("SELECT 1").execute(&mut *connection),
                )
                .await;
                match answered {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(source)) => Err(LeaseError::Database {
                        name: self.name.clone(),
                        source,
                    }),
                    Err(_) => Err(LeaseError::Unanswered {
                        name: self.name.clone(),
                    }),
                }
            }
            Held::File { .. } | Held::Memory => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_key_in_every_process() {
        // Fixed values: a change would let two versions of the service hold one lease each
        // during a rolling upgrade.
        assert_eq!(advisory_key("search-index"), advisory_key("search-index"));
        assert_ne!(advisory_key("search-index"), advisory_key("search-index2"));
        assert_eq!(advisory_key(""), 5_250_796_935_357_919_240);
    }

    #[test]
    fn the_lock_file_sits_beside_the_database() {
        assert_eq!(
            lock_file(std::path::Path::new("/d/catalog.db"), "search/meili:x"),
            std::path::PathBuf::from("/d/catalog.db.lease-search-meili-x")
        );
    }
}
