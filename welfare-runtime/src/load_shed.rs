//! Caps the calls served at once. Past the cap a call is refused at once with `UNAVAILABLE`
//! (a retryable code) instead of queueing: a queue under overload only adds latency. A call
//! holds its permit until its answer's body is finished or dropped — a streamed answer (the
//! catalogue's export) for the whole stream, not only until its headers. Health checks and
//! reflection are outside the cap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
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
    type Response = http::Response<HeldBody<R>>;
    type Error = S::Error;
    type Future = EarlyOr<Permitted<S::Future>, http::Response<HeldBody<R>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if crate::auth::is_infrastructure(request.uri().path()) {
            // Health and reflection take no permit and are never shed.
            return EarlyOr::inner(Permitted {
                inner: self.inner.call(request),
                permit: None,
            });
        }
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => EarlyOr::inner(Permitted {
                inner: self.inner.call(request),
                permit: Some(permit),
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
    /// The inner future, holding its permit, which goes to the answer's body.
    #[derive(Debug)]
    pub struct Permitted<F> {
        #[pin]
        inner: F,
        permit: Option<OwnedSemaphorePermit>,
    }
}

impl<F, R, E> Future for Permitted<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<HeldBody<R>>, E>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                let permit = this.permit.take();
                Poll::Ready(result.map(|response| {
                    response.map(|inner| HeldBody {
                        inner,
                        _permit: permit,
                    })
                }))
            }
        }
    }
}

pin_project! {
    /// An answer's body, holding its call's permit until finished or dropped.
    #[derive(Debug, Default)]
    pub struct HeldBody<B> {
        #[pin]
        inner: B,
        _permit: Option<OwnedSemaphorePermit>,
    }
}

impl<B: Body> Body for HeldBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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
        // The first answer's body is still being sent (a stream): its permit is still held.
        let during = layer
            .layer(inner.clone())
            .oneshot(http::Request::new(()))
            .await
            .expect("response");
        let status = tonic::Status::from_header_map(during.headers()).expect("grpc status");
        assert_eq!(
            status.code(),
            tonic::Code::Unavailable,
            "refused while it streams"
        );
        drop(first);
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
