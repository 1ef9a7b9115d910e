//! Caps the calls served at once. Past the cap a call is refused at once with `UNAVAILABLE`
//! (a retryable code) instead of queueing: a queue under overload only adds latency.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::error::ServiceError;
use crate::future::EarlyOr;

/// Adds a concurrency cap to a service stack.
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    permits: Arc<Semaphore>,
}

impl LoadShedLayer {
    pub fn new(max_concurrent: usize) -> LoadShedLayer {
        LoadShedLayer {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;
    fn layer(&self, inner: S) -> LoadShed<S> {
        LoadShed {
            inner,
            permits: Arc::clone(&self.permits),
        }
    }
}

/// The load-shedding service: see [`LoadShedLayer`].
#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B, R> Service<http::Request<B>> for LoadShed<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = EarlyOr<Permitted<S::Future>, http::Response<R>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => EarlyOr::inner(Permitted {
                inner: self.inner.call(request),
                _permit: permit,
            }),
            Err(_) => {
                let error = ServiceError::Unavailable {
                    message: "server is at its concurrency limit, retry later".to_owned(),
                };
                EarlyOr::early(error.to_status().into_http())
            }
        }
    }
}

pin_project! {
    /// The inner future, holding its permit until it completes.
    #[derive(Debug)]
    pub struct Permitted<F> {
        #[pin]
        inner: F,
        _permit: OwnedSemaphorePermit,
    }
}

impl<F: Future> Future for Permitted<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn calls_past_the_cap_are_refused_not_queued() {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
        let inner = tower::service_fn(move |_: http::Request<()>| {
            let released = Arc::clone(&released);
            async move {
                if let Some(wait) = released.lock().await.take() {
                    let _ = wait.await;
                }
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            }
        });
        let layer = LoadShedLayer::new(1);
        let first = tokio::spawn(layer.layer(inner.clone()).oneshot(http::Request::new(())));
        tokio::task::yield_now().await;
        // The first call holds the only permit until released.
        let second = layer
            .layer(inner.clone())
            .oneshot(http::Request::new(()))
            .await
            .expect("response");
        let status = tonic::Status::from_header_map(second.headers()).expect("grpc status");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        release.send(()).expect("first call waiting");
        let first = first.await.expect("joined").expect("response");
        assert!(tonic::Status::from_header_map(first.headers()).is_none());
        let third = layer
            .layer(inner)
            .oneshot(http::Request::new(()))
            .await
            .expect("response");
        assert!(
            tonic::Status::from_header_map(third.headers()).is_none(),
            "permit returned"
        );
    }
}
