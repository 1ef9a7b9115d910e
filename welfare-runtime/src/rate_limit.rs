//! Per-principal rate limit: a token bucket for each authenticated subject (or, for anonymous
//! callers, each client address). A caller over its rate gets `RESOURCE_EXHAUSTED` at once.
//! Sits inside the auth layer, which names the principal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::{Layer, Service};
use welfare_core::auth::Principal;

use crate::error::ServiceError;
use crate::future::EarlyOr;

/// The limiter's settings.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained calls per second.
    pub per_second: u32,
    /// Calls allowed at once above the sustained rate.
    pub burst: u32,
    /// Callers tracked before idle ones are forgotten.
    pub max_callers: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Buckets {
    limit: RateLimit,
    by_caller: HashMap<String, Bucket>,
}

impl Buckets {
    /// Takes one token from the caller's bucket, if it has one.
    fn take(&mut self, caller: &str, now: Instant) -> bool {
        let capacity = f64::from(self.limit.burst.max(1));
        let rate = f64::from(self.limit.per_second.max(1));
        if !self.by_caller.contains_key(caller) && self.by_caller.len() >= self.limit.max_callers {
            // Forget callers whose buckets have refilled: they are indistinguishable from new.
            self.by_caller.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate < capacity
            });
            if self.by_caller.len() >= self.limit.max_callers {
                return false;
            }
        }
        let bucket = self.by_caller.entry(caller.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Adds the per-principal rate limit to a service stack.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    buckets: Arc<Mutex<Buckets>>,
}

impl RateLimitLayer {
    pub fn new(limit: RateLimit) -> RateLimitLayer {
        RateLimitLayer {
            buckets: Arc::new(Mutex::new(Buckets {
                limit,
                by_caller: HashMap::new(),
            })),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner,
            buckets: Arc::clone(&self.buckets),
        }
    }
}

/// The rate-limited service: see [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimited<S> {
    inner: S,
    buckets: Arc<Mutex<Buckets>>,
}

/// Who is calling, for the limiter: the token subject, else the client address.
fn caller_key<B>(request: &http::Request<B>) -> String {
    let subject = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.subject.as_ref());
    match subject {
        Some(subject) => format!("sub:{subject}"),
        None => {
            let address = request
                .extensions()
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(tonic::transport::server::TcpConnectInfo::remote_addr);
            address.map_or_else(|| "anonymous".to_owned(), |a| format!("ip:{}", a.ip()))
        }
    }
}

impl<S, B, R> Service<http::Request<B>> for RateLimited<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = EarlyOr<S::Future, http::Response<R>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let caller = caller_key(&request);
        // A poisoned lock only means another call panicked mid-update; the buckets stay usable.
        let allowed = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(&caller, Instant::now());
        if allowed {
            EarlyOr::inner(self.inner.call(request))
        } else {
            let error = ServiceError::ResourceExhausted {
                reason: "RATE_LIMITED",
                message: "too many requests from this caller, slow down".to_owned(),
            };
            EarlyOr::early(error.to_status().into_http())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tower::ServiceExt;
    use welfare_core::ids::PersonId;

    fn request(subject: &str) -> http::Request<()> {
        let mut request = http::Request::new(());
        request.extensions_mut().insert(Principal::new(
            PersonId::parse(subject).expect("id"),
            vec![],
        ));
        request
    }

    fn code(response: &http::Response<String>) -> tonic::Code {
        tonic::Status::from_header_map(response.headers()).map_or(tonic::Code::Ok, |s| s.code())
    }

    #[tokio::test(start_paused = true)]
    async fn each_principal_has_its_own_bucket() {
        let ok = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let layer = RateLimitLayer::new(RateLimit {
            per_second: 1,
            burst: 2,
            max_callers: 10,
        });
        let call = |who: &'static str| layer.layer(ok).oneshot(request(who));
        assert_eq!(code(&call("anna").await.expect("ok")), tonic::Code::Ok);
        assert_eq!(code(&call("anna").await.expect("ok")), tonic::Code::Ok);
        assert_eq!(
            code(&call("anna").await.expect("ok")),
            tonic::Code::ResourceExhausted
        );
        assert_eq!(
            code(&call("luca").await.expect("ok")),
            tonic::Code::Ok,
            "another principal is unaffected"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            code(&call("anna").await.expect("ok")),
            tonic::Code::Ok,
            "the bucket refills"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_number_of_tracked_callers_is_bounded() {
        let mut buckets = Buckets {
            limit: RateLimit {
                per_second: 1,
                burst: 1,
                max_callers: 2,
            },
            by_caller: HashMap::new(),
        };
        let now = Instant::now();
        assert!(buckets.take("a", now));
        assert!(buckets.take("b", now));
        assert!(
            !buckets.take("c", now),
            "no room while a and b are still limited"
        );
        assert!(
            buckets.take("c", now + Duration::from_secs(2)),
            "refilled callers are forgotten"
        );
        assert!(buckets.by_caller.len() <= 2);
    }
}
