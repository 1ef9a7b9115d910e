//! The local words in force in this process ([`welfare_core::local_words::Lexicon`]): loaded
//! from the store when the indexer builds the index, and loaded again whenever a change is
//! written here (at once) or read from the outbox (within the indexer's interval, on every
//! replica). Loads run one at a time and each reads the whole table after the change it
//! follows, so a newer lexicon is never replaced by an older one.

use std::sync::{Arc, PoisonError, RwLock};

use welfare_core::local_words::Lexicon;

use crate::store::{CatalogStore, LocalWordRecord, StoreError};

/// The lexicon searches read: cheap to clone, shared by the service and the indexer.
#[derive(Debug, Clone, Default)]
pub struct LocalWords {
    current: Arc<RwLock<Arc<Lexicon>>>,
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl LocalWords {
    /// The lexicon in force now.
    pub fn current(&self) -> Arc<Lexicon> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads every local word from `store` and puts them in force; returns the records read.
    pub async fn load<S: CatalogStore>(
        &self,
        store: &S,
    ) -> Result<Vec<LocalWordRecord>, StoreError> {
        let _one_at_a_time = self.loading.lock().await;
        let records = store.local_words().await?;
        let lexicon = Lexicon::new(records.iter().map(|record| record.word.clone()));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(lexicon);
        Ok(records)
    }
}
