//! The future shared by layers that either answer at once (a refusal) or call the inner
//! service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pin_project! {
    /// Either an immediate response or the inner service's future.
    #[project = EarlyOrProj]
    #[derive(Debug)]
    pub enum EarlyOr<F, R> {
        /// Answered by the layer itself.
        Early { response: Option<R> },
        /// Passed on to the inner service.
        Inner { #[pin] future: F },
    }
}

impl<F, R> EarlyOr<F, R> {
    pub fn early(response: R) -> EarlyOr<F, R> {
        EarlyOr::Early {
            response: Some(response),
        }
    }

    pub fn inner(future: F) -> EarlyOr<F, R> {
        EarlyOr::Inner { future }
    }
}

impl<F, R, E> Future for EarlyOr<F, R>
where
    F: Future<Output = Result<R, E>>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            EarlyOrProj::Early { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completion: a contract violation by the caller, answered
                // by never completing again rather than by panicking.
                None => Poll::Pending,
            },
            EarlyOrProj::Inner { future } => future.poll(cx),
        }
    }
}

pin_project! {
    /// The inner future, unless `stop` completes first: then the call is answered with the
    /// error `refusal` builds and the inner future is dropped.
    #[derive(Debug)]
    pub struct Interrupted<F, S> {
        #[pin]
        inner: F,
        #[pin]
        stop: S,
        refusal: fn() -> crate::error::ServiceError,
    }
}

impl<F, S> Interrupted<F, S> {
    pub fn new(
        inner: F,
        stop: S,
        refusal: fn() -> crate::error::ServiceError,
    ) -> Interrupted<F, S> {
        Interrupted {
            inner,
            stop,
            refusal,
        }
    }
}

impl<F, S, R, E> Future for Interrupted<F, S>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    S: Future<Output = ()>,
    R: Default,
{
    type Output = Result<http::Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        match this.stop.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok((this.refusal)().to_status().into_http())),
            Poll::Pending => Poll::Pending,
        }
    }
}
