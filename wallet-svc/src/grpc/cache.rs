//! A bounded read-through cache of the records that never change once written (plans,
//! wallets' owners, holds' fixed parts), so most calls read them once.

use std::sync::Arc;

use super::MAX_CACHED_RECORDS;

/// A bounded read-through cache of immutable records by id.
pub(super) struct Cache<T>(std::sync::RwLock<std::collections::HashMap<String, Arc<T>>>);

impl<T> Default for Cache<T> {
    fn default() -> Cache<T> {
        Cache(std::sync::RwLock::default())
    }
}

impl<T> Cache<T> {
    pub(super) fn get(&self, id: &str) -> Option<Arc<T>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    pub(super) fn insert(&self, id: &str, value: T) -> Arc<T> {
        let value = Arc::new(value);
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_CACHED_RECORDS {
            map.clear();
        }
        map.insert(id.to_owned(), Arc::clone(&value));
        value
    }
}
