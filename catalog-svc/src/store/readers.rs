//! Connections kept outside sqlx's pool for a search's reads by id: sqlx pings every connection
//! returned to its pool, one more round trip per read.

use super::*;

/// How many connections [`Readers`] holds.
pub(super) const READERS: usize = 4;

/// Connections kept outside sqlx's pool for `listings_by_id`, the read every search page makes.
/// The pool tests a connection with a round trip each time one is returned (sqlx pings it on
/// release): one more wake-up of an SQLite connection's thread, or one more network round trip
/// to PostgreSQL, per read. A connection whose read fails or is abandoned midway is dropped,
/// never reused, and a read that failed on a reused connection is tried once on a new one.
#[derive(Debug)]
pub(super) struct Readers {
    idle: Mutex<Vec<AnyConnection>>,
    permits: tokio::sync::Semaphore,
}

/// A connection of [`Readers`] in use: dropped with it unless given back.
pub(super) struct Reader<'a> {
    pub(super) connection: AnyConnection,
    readers: &'a Readers,
    pub(super) reused: bool,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Readers {
    pub(super) fn new() -> Readers {
        Readers {
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: tokio::sync::Semaphore::new(READERS),
        }
    }

    /// An idle connection, or a new one from `pool` (with its settings) when `reuse` is false
    /// or none is idle.
    pub(super) async fn take(&self, pool: &AnyPool, reuse: bool) -> Result<Reader<'_>, StoreError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = if reuse {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
        } else {
            None
        };
        let reused = idle.is_some();
        let connection = match idle {
            Some(connection) => connection,
            None => pool.acquire().await?.detach(),
        };
        Ok(Reader {
            connection,
            readers: self,
            reused,
            _permit: permit,
        })
    }
}

impl Reader<'_> {
    /// Returns the connection for the next read (or closes it, if as many are already idle).
    pub(super) fn give_back(self) {
        let mut idle = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READERS {
            idle.push(self.connection);
        }
    }
}
