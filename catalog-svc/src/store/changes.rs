//! The process-wide count of changes to an SQLite catalogue file: every store of the process on
//! the same file shares one counter, bumped when a change's transaction has ended.

use super::*;

/// The change count of the SQLite file `url` names, shared within the process; a new one for
/// an in-memory database, which no other store can open.
pub(super) fn changes_of(url: &str) -> Arc<AtomicU64> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Weak<AtomicU64>>>> = OnceLock::new();
    let Some(path) = sqlite_file(url).and_then(|path| std::fs::canonicalize(path).ok()) else {
        return Arc::new(AtomicU64::new(0));
    };
    let mut files = FILES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    files.retain(|_, count| count.strong_count() > 0);
    if let Some(count) = files.get(&path).and_then(Weak::upgrade) {
        return count;
    }
    let count = Arc::new(AtomicU64::new(0));
    files.insert(path, Arc::downgrade(&count));
    count
}

/// Counts a change when dropped: when the function writing it returns, after its
/// transaction committed or failed (one count too many only costs the next search a read),
/// or when the caller stops waiting for it midway.
pub(super) struct CountsChange<'a>(pub(super) Option<&'a AtomicU64>);

impl Drop for CountsChange<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
}
