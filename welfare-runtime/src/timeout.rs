//! Bounds how long a call may run: past the limit the caller gets `DEADLINE_EXCEEDED` and the
//! handler's future is dropped. A shorter `grpc-timeout` sent by the client wins.

use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

use crate::error::ServiceError;
use crate::future::Interrupted;

/// Adds a request timeout to a service stack.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    pub fn new(limit: Duration) -> TimeoutLayer {
        TimeoutLayer { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            limit: self.limit,
        }
    }
}

/// The timeout service: see [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

/// Reads a `grpc-timeout` header: an integer of at most 8 digits and a unit (H M S m u n).
fn client_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3_600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

impl<S, B, R> Service<http::Request<B>> for Timeout<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Interrupted<S::Future, tokio::time::Sleep>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let limit =
            client_timeout(request.headers()).map_or(self.limit, |client| client.min(self.limit));
        Interrupted::new(self.inner.call(request), tokio::time::sleep(limit), || {
            ServiceError::DeadlineExceeded
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_gets_deadline_exceeded() {
        let slow = tower::service_fn(|_: http::Request<()>| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let service = TimeoutLayer::new(Duration::from_secs(1)).layer(slow);
        let response = service
            .oneshot(http::Request::new(()))
            .await
            .expect("response");
        let status = tonic::Status::from_header_map(response.headers()).expect("grpc status");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }

    #[test]
    fn reads_client_timeouts() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", http::HeaderValue::from_static("250m"));
        assert_eq!(client_timeout(&headers), Some(Duration::from_millis(250)));
        headers.insert("grpc-timeout", http::HeaderValue::from_static("123456789S"));
        assert_eq!(client_timeout(&headers), None);
        headers.insert("grpc-timeout", http::HeaderValue::from_static("m"));
        assert_eq!(client_timeout(&headers), None);
    }
}
