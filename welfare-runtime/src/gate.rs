//! Which of a server's methods a listener answers. A service may split its methods between two
//! listeners — the wallet's hold RPCs on a port of their own that only the booking service can
//! reach, so the network, not only the token, keeps everyone else from them. A method the
//! listener does not answer is refused with `UNIMPLEMENTED` (reason `SERVED_ON_ANOTHER_PORT`),
//! naming where it is served; health and reflection are answered everywhere.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::error::ERROR_DOMAIN;
use crate::future::EarlyOr;

/// The reason of a call to a method this listener does not answer.
pub const SERVED_ON_ANOTHER_PORT: &str = "SERVED_ON_ANOTHER_PORT";

/// Which methods (full paths, `/package.Service/Method`) a listener answers.
#[derive(Debug, Clone, Default)]
pub enum Gate {
    /// Every method of the server.
    #[default]
    Everything,
    /// Only these; the others are served `elsewhere`.
    Only {
        methods: Arc<HashSet<String>>,
        elsewhere: String,
    },
    /// All but these, which are served `elsewhere`.
    AllBut {
        methods: Arc<HashSet<String>>,
        elsewhere: String,
    },
}

impl Gate {
    /// Where a call to `path` is served, when not here.
    fn elsewhere(&self, path: &str) -> Option<&str> {
        match self {
            Gate::Everything => None,
            Gate::Only { methods, elsewhere } => {
                (!methods.contains(path)).then_some(elsewhere.as_str())
            }
            Gate::AllBut { methods, elsewhere } => {
                methods.contains(path).then_some(elsewhere.as_str())
            }
        }
    }
}

/// Refuses the methods a [`Gate`] leaves out.
#[derive(Debug, Clone)]
pub struct GateLayer {
    gate: Gate,
}

impl GateLayer {
    pub fn new(gate: Gate) -> GateLayer {
        GateLayer { gate }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gated<S>;
    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The gated service: see [`GateLayer`].
#[derive(Debug, Clone)]
pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

/// Paths every listener answers: health checks and reflection.
pub(crate) fn always_answered(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

impl<S, B, R> Service<http::Request<B>> for Gated<S>
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
        let path = request.uri().path();
        match self.gate.elsewhere(path).filter(|_| !always_answered(path)) {
            None => EarlyOr::inner(self.inner.call(request)),
            Some(elsewhere) => {
                let status = tonic::Status::with_error_details(
                    Code::Unimplemented,
                    format!("{path} is not served on this port: call {elsewhere}"),
                    ErrorDetails::with_error_info(
                        SERVED_ON_ANOTHER_PORT,
                        ERROR_DOMAIN,
                        std::collections::HashMap::new(),
                    ),
                );
                EarlyOr::early(status.into_http())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn set(paths: &[&str]) -> Arc<HashSet<String>> {
        Arc::new(paths.iter().map(|p| (*p).to_owned()).collect())
    }

    async fn answer(gate: &Gate, path: &str) -> Option<tonic::Status> {
        let inner = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let request = http::Request::builder()
            .uri(path)
            .body(())
            .expect("request");
        let response = GateLayer::new(gate.clone())
            .layer(inner)
            .oneshot(request)
            .await
            .expect("response");
        tonic::Status::from_header_map(response.headers())
    }

    #[tokio::test]
    async fn a_listener_answers_its_methods_and_names_where_the_others_are() {
        let holds = set(&["/w.W/Hold"]);
        let main = Gate::AllBut {
            methods: Arc::clone(&holds),
            elsewhere: "the holds port".to_owned(),
        };
        let holds_port = Gate::Only {
            methods: holds,
            elsewhere: "the main port".to_owned(),
        };
        assert!(answer(&Gate::Everything, "/w.W/Hold").await.is_none());
        assert!(answer(&main, "/w.W/Balance").await.is_none());
        assert!(answer(&holds_port, "/w.W/Hold").await.is_none());
        let refused = answer(&main, "/w.W/Hold").await.expect("refused");
        assert_eq!(refused.code(), Code::Unimplemented);
        assert!(
            refused.message().contains("call the holds port"),
            "{refused:?}"
        );
        assert_eq!(
            refused
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone()),
            Some(SERVED_ON_ANOTHER_PORT.to_owned())
        );
        let refused = answer(&holds_port, "/w.W/Balance").await.expect("refused");
        assert!(refused.message().contains("call the main port"));
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(answer(&holds_port, path).await.is_none(), "{path}");
        }
    }
}
