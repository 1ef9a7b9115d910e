//! Bounds shutdown: once the grace period is over, every call still in flight is answered
//! `UNAVAILABLE` and its handler dropped, so a stuck call cannot hold the process (or, in an
//! embedding process, the connection) open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tower::{Layer, Service};

use crate::error::ServiceError;
use crate::future::{EarlyOr, Interrupted};

/// The switch that cuts off calls in flight.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    stopped: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Drain {
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Answers every call in flight with `UNAVAILABLE`, and any later call too.
    pub fn cut_off(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The layer that obeys this switch.
    pub fn layer(&self) -> DrainLayer {
        DrainLayer {
            drain: self.clone(),
        }
    }
}

/// Adds the cut-off to a service stack.
#[derive(Debug, Clone)]
pub struct DrainLayer {
    drain: Drain,
}

impl<S> Layer<S> for DrainLayer {
    type Service = Drained<S>;
    fn layer(&self, inner: S) -> Drained<S> {
        Drained {
            inner,
            drain: self.drain.clone(),
        }
    }
}

/// The drained service: see [`DrainLayer`].
#[derive(Debug, Clone)]
pub struct Drained<S> {
    inner: S,
    drain: Drain,
}

fn shutting_down() -> ServiceError {
    ServiceError::Unavailable {
        message: "server is shutting down, retry on another instance".to_owned(),
    }
}

impl<S, B, R> Service<http::Request<B>> for Drained<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = EarlyOr<Interrupted<S::Future, OwnedNotified>, http::Response<R>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // Register for the notification before checking the flag, so none is missed.
        let notified = Arc::clone(&self.drain.notify).notified_owned();
        if self.drain.stopped.load(Ordering::SeqCst) {
            return EarlyOr::early(shutting_down().to_status().into_http());
        }
        EarlyOr::inner(Interrupted::new(
            self.inner.call(request),
            notified,
            shutting_down,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tower::ServiceExt;

    #[tokio::test(start_paused = true)]
    async fn cutting_off_answers_calls_in_flight_and_later_ones() {
        let slow = tower::service_fn(|_: http::Request<()>| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let drain = Drain::new();
        let in_flight = tokio::spawn(drain.layer().layer(slow).oneshot(http::Request::new(())));
        tokio::task::yield_now().await;
        drain.cut_off();
        let code = |response: http::Response<String>| {
            tonic::Status::from_header_map(response.headers()).map(|s| s.code())
        };
        assert_eq!(
            code(in_flight.await.expect("joined").expect("response")),
            Some(tonic::Code::Unavailable)
        );
        let later = drain
            .layer()
            .layer(slow)
            .oneshot(http::Request::new(()))
            .await
            .expect("response");
        assert_eq!(code(later), Some(tonic::Code::Unavailable));
    }
}
