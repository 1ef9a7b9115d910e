//! Per-principal rate limit: a token bucket for each authenticated subject (or, for anonymous
//! callers, each client address). A caller over its rate gets `RESOURCE_EXHAUSTED` at once.
//! The platform's own services (the booking service, acting for every person) get buckets of
//! their own size. Sits inside the auth layer, which names the principal. Health checks and
//! reflection are not limited. When the table of callers is full, the least recently seen are
//! forgotten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::{Layer, Service};
use welfare_core::auth::Principal;

use crate::error::ServiceError;
use crate::future::EarlyOr;

/// The limiter's settings.
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// Sustained calls per second.
    pub per_second: u32,
    /// Calls allowed at once above the sustained rate.
    pub burst: u32,
    /// Callers tracked before idle ones are forgotten.
    pub max_callers: usize,
    /// Sustained calls per second of a service identity.
    pub service_per_second: u32,
    /// A service identity's burst.
    pub service_burst: u32,
    /// Proxies trusted to name the client of an anonymous call (`crate::peer`).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
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
    /// Whether the caller's bucket has a token now (taking none).
    fn peek(&self, caller: &Caller, now: Instant) -> bool {
        let (burst, per_second) = self.sizes(caller);
        self.by_caller
            .get(caller.key.as_str())
            .is_none_or(|bucket| {
                let refill = now.duration_since(bucket.updated).as_secs_f64() * per_second;
                (bucket.tokens + refill).min(burst) >= 1.0
            })
    }

    /// The caller's bucket size and refill rate.
    fn sizes(&self, caller: &Caller) -> (f64, f64) {
        let (burst, per_second) = if caller.service {
            (self.limit.service_burst, self.limit.service_per_second)
        } else {
            (self.limit.burst, self.limit.per_second)
        };
        (f64::from(burst.max(1)), f64::from(per_second.max(1)))
    }

    /// Takes one token from the caller's bucket, if it has one.
    fn take(&mut self, caller: &Caller, now: Instant) -> bool {
        let (capacity, rate) = self.sizes(caller);
        let caller = caller.key.as_str();
        if !self.by_caller.contains_key(caller) && self.by_caller.len() >= self.limit.max_callers {
            // Forget callers whose buckets have refilled: they are indistinguishable from new.
            self.by_caller.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate < capacity
            });
            if self.by_caller.len() >= self.limit.max_callers {
                self.forget_least_recent();
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

impl Buckets {
    /// Forgets the least recently seen eighth of the callers (at least one): done only when
    /// the table is full, so each forgetting pays for the next many new callers.
    fn forget_least_recent(&mut self) {
        let forget = (self.by_caller.len() / 8).max(1);
        let mut seen: Vec<Instant> = self.by_caller.values().map(|b| b.updated).collect();
        let Some(index) = forget.checked_sub(1) else {
            return;
        };
        let (_, cutoff, _) = seen.select_nth_unstable(index);
        let cutoff = *cutoff;
        let mut left = forget;
        self.by_caller.retain(|_, bucket| {
            if left > 0 && bucket.updated <= cutoff {
                left -= 1;
                false
            } else {
                true
            }
        });
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

/// Who is calling, for the limiter.
#[derive(Debug)]
struct Caller {
    /// The token subject (services apart), else the client address.
    key: String,
    /// A service identity, with the service limits.
    service: bool,
}

fn caller<B>(request: &http::Request<B>, trusted: &[std::net::IpAddr]) -> Caller {
    let principal = request.extensions().get::<Principal>();
    let service = principal.is_some_and(Principal::is_service);
    let key = caller_key(request, trusted);
    Caller {
        key: if service { format!("svc:{key}") } else { key },
        service,
    }
}

/// The token subject, else the client address.
fn caller_key<B>(request: &http::Request<B>, trusted: &[std::net::IpAddr]) -> String {
    let subject = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.subject.as_ref());
    match subject {
        Some(subject) => format!("sub:{subject}"),
        None => crate::peer::client_address(request, trusted)
            .map_or_else(|| "anonymous".to_owned(), |ip| format!("ip:{ip}")),
    }
}

/// One bucket per client address: how failed authentications are limited (the auth layer
/// asks before checking a token and charges each failure).
#[derive(Debug, Clone)]
pub(crate) struct FailureLimiter {
    buckets: Arc<Mutex<Buckets>>,
}

impl FailureLimiter {
    pub(crate) fn new(per_second: u32, burst: u32, max_addresses: usize) -> FailureLimiter {
        FailureLimiter {
            buckets: Arc::new(Mutex::new(Buckets {
                limit: RateLimit {
                    per_second,
                    burst,
                    max_callers: max_addresses,
                    service_per_second: per_second,
                    service_burst: burst,
                    trusted_proxies: Arc::from([]),
                },
                by_caller: HashMap::new(),
            })),
        }
    }

    fn address(address: std::net::IpAddr) -> Caller {
        Caller {
            key: format!("ip:{address}"),
            service: false,
        }
    }

    /// Whether `address` may still have a token checked.
    pub(crate) fn allows(&self, address: std::net::IpAddr) -> bool {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .peek(&FailureLimiter::address(address), Instant::now())
    }

    /// Counts a failed authentication from `address`.
    pub(crate) fn charge(&self, address: std::net::IpAddr) {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(&FailureLimiter::address(address), Instant::now());
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
        if crate::auth::is_infrastructure(request.uri().path()) {
            // Health and reflection are never rate-limited.
            return EarlyOr::inner(self.inner.call(request));
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let caller = caller(&request, &buckets.limit.trusted_proxies);
        let allowed = buckets.take(&caller, Instant::now());
        drop(buckets);
        // (A poisoned lock only means another call panicked mid-update; the buckets stay
        // usable.)
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
            service_per_second: 1,
            service_burst: 2,
            trusted_proxies: Arc::from([]),
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

    /// The booking service places every hold of the platform: 300 quick calls from it pass
    /// under limits that stop a person at 200, and a person claiming its subject without its
    /// role is still limited like a person.
    #[tokio::test(start_paused = true)]
    async fn service_identities_have_limits_of_their_own() {
        let ok = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let layer = RateLimitLayer::new(RateLimit {
            per_second: 100,
            burst: 200,
            max_callers: 10,
            service_per_second: 5_000,
            service_burst: 10_000,
            trusted_proxies: Arc::from([]),
        });
        let service = || {
            let mut request = http::Request::new(());
            request.extensions_mut().insert(Principal::new(
                PersonId::parse("booking-svc").expect("id"),
                vec![welfare_core::auth::Role::BookingService],
            ));
            request
        };
        for call in 0..300 {
            let answer = layer.layer(ok).oneshot(service()).await.expect("ok");
            assert_eq!(code(&answer), tonic::Code::Ok, "service call {call}");
        }
        let mut limited = 0;
        for _ in 0..300 {
            let answer = layer
                .layer(ok)
                .oneshot(request("booking-svc"))
                .await
                .expect("ok");
            limited += usize::from(code(&answer) == tonic::Code::ResourceExhausted);
        }
        assert_eq!(
            limited, 100,
            "the same subject without the role is a person"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_number_of_tracked_callers_is_bounded() {
        let mut buckets = Buckets {
            limit: RateLimit {
                per_second: 1,
                burst: 1,
                max_callers: 2,
                service_per_second: 1,
                service_burst: 1,
                trusted_proxies: Arc::from([]),
            },
            by_caller: HashMap::new(),
        };
        let now = Instant::now();
        let person = |key: &str| Caller {
            key: key.to_owned(),
            service: false,
        };
        let ms = Duration::from_millis(1);
        assert!(buckets.take(&person("a"), now));
        assert!(buckets.take(&person("b"), now + ms));
        assert!(
            buckets.take(&person("c"), now + 2 * ms),
            "a new caller is tracked though a and b are still limited"
        );
        assert!(
            !buckets.by_caller.contains_key("a") && buckets.by_caller.contains_key("b"),
            "the least recently seen is forgotten"
        );
        assert!(
            !buckets.take(&person("b"), now + 3 * ms),
            "b is still limited"
        );
        assert!(
            buckets.take(&person("d"), now + Duration::from_secs(2)),
            "refilled callers are forgotten first"
        );
        assert!(buckets.by_caller.len() <= 2);
    }
}
