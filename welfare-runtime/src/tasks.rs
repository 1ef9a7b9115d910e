//! The background tasks a service runs beside its routes (the catalogue's indexer, the
//! wallet's sweeper): started by its composition root, stopped when the set is dropped, so a
//! process that stops serving stops them too. Each pass of a task is counted
//! ([`record_pass`], `lodiwelfare.task.passes` by task and outcome): an alert sees a task that
//! stopped or keeps failing.

use std::future::Future;
use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;

use tokio::task::JoinHandle;

/// Passes of background tasks, by `task` and `outcome` (`ok`, `failed`).
pub const METRIC_TASK_PASSES: &str = "lodiwelfare.task.passes";

/// Counts one pass of `task`: `ok` when it did its work (found nothing to do included).
pub fn record_pass(task: &'static str, ok: bool) {
    static PASSES: OnceLock<Counter<u64>> = OnceLock::new();
    PASSES
        .get_or_init(|| {
            opentelemetry::global::meter("welfare-runtime")
                .u64_counter(METRIC_TASK_PASSES)
                .with_description("passes of background tasks, by task and outcome")
                .build()
        })
        .add(
            1,
            &[
                KeyValue::new("task", task),
                KeyValue::new("outcome", if ok { "ok" } else { "failed" }),
            ],
        );
}

/// Runs `pass` every `interval` until the task is dropped, counting each pass under `task`
/// (`pass` answers whether it succeeded; it logs its own failures).
pub async fn every<F, Fut>(task: &'static str, interval: std::time::Duration, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        record_pass(task, pass().await);
    }
}

/// Running background tasks, each with a name for the logs; aborted on drop.
#[derive(Debug, Default)]
pub struct BackgroundTasks {
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl BackgroundTasks {
    /// Spawns `task` on the current runtime.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        tracing::debug!(task = name, "background task started");
        self.running.push((name, tokio::spawn(task)));
    }

    /// Both sets' tasks in one.
    pub fn merge(mut self, mut other: BackgroundTasks) -> BackgroundTasks {
        self.running.append(&mut other.running);
        self
    }

    /// The names of the tasks, in the order they were started.
    pub fn names(&self) -> Vec<&'static str> {
        self.running.iter().map(|(name, _)| *name).collect()
    }

    /// Whether every task is still running (none ended or panicked).
    pub fn all_running(&self) -> bool {
        self.running.iter().all(|(_, handle)| !handle.is_finished())
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for (name, handle) in &self.running {
            handle.abort();
            tracing::debug!(task = name, "background task stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Sets its flag when dropped: the task's future was dropped, so the task stopped.
    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn dropping_the_set_stops_every_task_of_both_halves() {
        let (first, second) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let mut a = BackgroundTasks::default();
        let flag = Flag(Arc::clone(&first));
        a.spawn("indexer", async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        let mut b = BackgroundTasks::default();
        let flag = Flag(Arc::clone(&second));
        b.spawn("sweeper", async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        let both = a.merge(b);
        tokio::task::yield_now().await;
        assert_eq!(both.names(), ["indexer", "sweeper"]);
        assert!(both.all_running());
        drop(both);
        for _ in 0..100 {
            if first.load(Ordering::SeqCst) && second.load(Ordering::SeqCst) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("a task outlived its set");
    }

    #[tokio::test]
    async fn a_task_that_ends_is_reported() {
        let mut tasks = BackgroundTasks::default();
        tasks.spawn("short", async {});
        for _ in 0..100 {
            if !tasks.all_running() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the ended task still counts as running");
    }
}
