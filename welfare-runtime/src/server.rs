//! Startup you can test: [`Application::build`] binds (port 0 in tests) and assembles the
//! layer stack, health and reflection; [`Application::run_until_stopped`] serves until the
//! shutdown future resolves, then drains in-flight calls for at most the grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;

use crate::auth::{AuthLayer, AuthSetupError, JwtVerifier};
use crate::client_cert::{AllowedClients, ClientCertLayer};
use crate::config::RuntimeConfig;
use crate::drain::Drain;
use crate::gate::{Gate, GateLayer};
use crate::load_shed::LoadShedLayer;
use crate::observe::ObserveLayer;
use crate::rate_limit::{RateLimit, RateLimitLayer};
use crate::timeout::TimeoutLayer;
use crate::tls::{ClientCerts, ServerTls, TlsError};

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error(
        "{addr} is reachable from other machines and calls would travel in plaintext: set \
         server.tls (a certificate and its key) or, on a network of one machine or a mesh that \
         encrypts, server.allow_plaintext = true"
    )]
    Plaintext { addr: SocketAddr },
}

/// What a service contributes to the runtime: its routes, its public methods and the names of
/// its gRPC services (for health).
#[derive(Debug)]
pub struct ServiceSet {
    pub routes: Routes,
    /// Full paths callable without a token, e.g. `/welfare.catalog.v1.CatalogService/SearchListings`.
    pub public_methods: Vec<String>,
    /// Fully qualified service names reported SERVING by health checks.
    pub service_names: Vec<String>,
    /// Services not ready when the server starts (a search index still being built): reported
    /// NOT_SERVING until their signal turns true, and the server as a whole with them.
    pub readiness: Vec<Readiness>,
    /// Which of its methods this listener answers (all, unless the service splits them
    /// between listeners).
    pub gate: Gate,
    /// The only clients this listener answers, by their certificates (mutual TLS); anyone
    /// with a valid token when unset.
    pub clients: Option<AllowedClients>,
}

/// When a service is ready to answer.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// The fully qualified service name, as in [`ServiceSet::service_names`].
    pub service_name: String,
    pub ready: tokio::sync::watch::Receiver<bool>,
}

impl Readiness {
    /// Resolves once ready; never, if the signal's sender is gone before.
    async fn wait(mut self) {
        if self.ready.wait_for(|ready| *ready).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl ServiceSet {
    /// `routes` answering every method on its listener, for any client, ready at once.
    pub fn new(
        routes: Routes,
        public_methods: Vec<String>,
        service_names: Vec<String>,
    ) -> ServiceSet {
        ServiceSet {
            routes,
            public_methods,
            service_names,
            readiness: Vec::new(),
            gate: Gate::Everything,
            clients: None,
        }
    }

    /// The same set, with `service_name` reported NOT_SERVING until `ready` turns true.
    pub fn ready_when(
        mut self,
        service_name: &str,
        ready: tokio::sync::watch::Receiver<bool>,
    ) -> ServiceSet {
        self.readiness.push(Readiness {
            service_name: service_name.to_owned(),
            ready,
        });
        self
    }

    /// The same set, answering only the methods `gate` lets through on its listener.
    pub fn gated(mut self, gate: Gate) -> ServiceSet {
        self.gate = gate;
        self
    }

    /// The same set, answering only `clients` (their certificates verified by mutual TLS).
    pub fn for_clients(mut self, clients: AllowedClients) -> ServiceSet {
        self.clients = Some(clients);
        self
    }

    /// Both sets served as one, on one port behind one layer stack: how the all-in-one
    /// process puts several services together.
    pub fn merge(self, other: ServiceSet) -> ServiceSet {
        // Both carry tonic's fallback (UNIMPLEMENTED for unknown services): keep one.
        let router = self
            .routes
            .into_axum_router()
            .merge(other.routes.into_axum_router().reset_fallback());
        let mut public_methods = self.public_methods;
        public_methods.extend(other.public_methods);
        let mut service_names = self.service_names;
        service_names.extend(other.service_names);
        let mut readiness = self.readiness;
        readiness.extend(other.readiness);
        ServiceSet {
            routes: Routes::from(router),
            public_methods,
            service_names,
            readiness,
            // One port for every service: every method answered, by every client.
            gate: Gate::Everything,
            clients: None,
        }
    }
}

/// A bound, assembled server, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    routes: Routes,
    health: HealthReporter,
    service_names: Vec<String>,
    readiness: Vec<Readiness>,
    config: RuntimeConfig,
    auth: AuthLayer,
    gate: Gate,
    clients: Option<AllowedClients>,
    tls: Option<ServerTls>,
    /// The plaintext listener answering health checks only (`server.health_addr`).
    health_listener: Option<TcpListener>,
    /// `package.Service/Method` of every method served, health and reflection included.
    methods: Vec<String>,
}

impl Application {
    /// Binds the listen address and assembles the server around `services`.
    pub async fn build(
        config: &RuntimeConfig,
        services: ServiceSet,
    ) -> Result<Application, StartupError> {
        let verifier = JwtVerifier::from_config(&config.auth)?;
        crate::page_token::use_key(config.server.page_token_secret.as_ref());
        let addr = config.server.listen_addr;
        let tls = match &config.server.tls {
            Some(tls) => Some(ServerTls::load(
                tls,
                ClientCerts::for_listener(tls, services.clients.is_some()),
            )?),
            None if services.clients.is_some() => {
                return Err(TlsError::Setup(
                    "this listener answers named clients only: set server.tls with client_ca_file"
                        .to_owned(),
                )
                .into());
            }
            None if config.server.plaintext_refused() => {
                return Err(StartupError::Plaintext { addr });
            }
            None => None,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let health_listener = match config.server.health_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
            None => None,
        };
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let (health, health_service) = tonic_health::server::health_reporter();
        // Both versions of reflection: v1, and v1alpha, the one grpcurl 1.8 and many tools
        // still ask for.
        // Reflection lists what this server serves, not the whole contract.
        let reflection = |itself: &str| {
            let builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(welfare_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
            services
                .service_names
                .iter()
                .map(String::as_str)
                .chain(["grpc.health.v1.Health", itself])
                .fold(builder, |builder, name| builder.with_service_name(name))
        };
        let reflection_v1 = reflection("grpc.reflection.v1.ServerReflection")
            .build_v1()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        let reflection_v1alpha = reflection("grpc.reflection.v1alpha.ServerReflection")
            .build_v1alpha()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        let routes = services
            .routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        let mut served: Vec<&str> = services.service_names.iter().map(String::as_str).collect();
        served.extend(ALWAYS_SERVED);
        let methods = methods_of(&served)?;
        Ok(Application {
            listener,
            port,
            routes,
            health,
            methods,
            service_names: services.service_names,
            readiness: services.readiness,
            config: config.clone(),
            auth: AuthLayer::new(verifier, services.public_methods).limiting_failures(
                config.limits.auth_failures_per_second,
                config.limits.auth_failures_burst,
                config.limits.rate_limit_max_principals,
                &config.limits.trusted_proxies,
            ),
            gate: services.gate,
            clients: services.clients,
            tls,
            health_listener,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound port of the health-only listener, when there is one.
    pub fn health_port(&self) -> Option<u16> {
        self.health_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map(|addr| addr.port())
    }

    /// The health reporter, to mark services serving or not.
    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, reports NOT_SERVING, and lets
    /// in-flight calls finish for at most `server.shutdown_grace_ms` before dropping them.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let limits = &self.config.limits;
        // Outermost first. Observe sees every call, refusals included; the drain cuts off what
        // outlives the shutdown grace; the timeout bounds all the work below it; auth names
        // the principal that the rate limiter keys on; the concurrency cap is innermost so
        // that refused calls never hold a permit.
        let drain = Drain::new();
        let layers = ServiceBuilder::new()
            .layer(ObserveLayer::new(self.methods.clone()))
            .layer(drain.layer())
            .layer(GateLayer::new(self.gate.clone()))
            .option_layer(self.clients.clone().map(ClientCertLayer::new))
            .layer(TimeoutLayer::new(Duration::from_millis(
                limits.request_timeout_ms.max(1),
            )))
            .layer(self.auth.clone())
            .layer(RateLimitLayer::new(RateLimit {
                per_second: limits.rate_limit_per_second,
                burst: limits.rate_limit_burst,
                max_callers: limits.rate_limit_max_principals,
                service_per_second: limits.service_rate_limit_per_second,
                service_burst: limits.service_rate_limit_burst,
                trusted_proxies: Arc::from(limits.trusted_proxies.as_slice()),
            }))
            .layer(LoadShedLayer::new(limits.max_concurrent_requests))
            .into_inner();
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        // Each service SERVING once ready (at once without a readiness signal), the server as
        // a whole once all are; never after shutdown began.
        let mut waits = Vec::new();
        for name in &self.service_names {
            let gates: Vec<Readiness> = self
                .readiness
                .iter()
                .filter(|r| &r.service_name == name)
                .cloned()
                .collect();
            if gates.iter().all(|r| *r.ready.borrow()) {
                self.health
                    .set_service_status(name, ServingStatus::Serving)
                    .await;
            } else {
                self.health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
                let (health, name, stopping) =
                    (self.health.clone(), name.clone(), stopping_rx.clone());
                waits.push(tokio::spawn(async move {
                    for gate in gates {
                        gate.wait().await;
                    }
                    if !*stopping.borrow() {
                        tracing::info!(service = %name, "ready: serving");
                        health
                            .set_service_status(&name, ServingStatus::Serving)
                            .await;
                    }
                }));
            }
        }
        if waits.is_empty() {
            self.health
                .set_service_status("", ServingStatus::Serving)
                .await;
        } else {
            self.health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            let (health, stopping) = (self.health.clone(), stopping_rx.clone());
            tokio::spawn(async move {
                for wait in waits {
                    let _ = wait.await;
                }
                if !*stopping.borrow() {
                    health.set_service_status("", ServingStatus::Serving).await;
                }
            });
        }

        let health = self.health.clone();
        let names = self.service_names.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight calls");
            for name in &names {
                health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            let _ = stopping_tx.send(true);
        };
        // Probes that cannot speak TLS ask here; it answers for as long as the server runs.
        let mut health_only = crate::tasks::BackgroundTasks::default();
        if let Some(listener) = self.health_listener {
            let service = tonic_health::pb::health_server::HealthServer::new(
                tonic_health::server::HealthService::from_health_reporter(self.health.clone()),
            );
            let serving = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
            health_only.spawn("health-probe-port", async move {
                if let Err(error) = serving.await {
                    tracing::error!(%error, "the health-only port stopped");
                }
            });
        }
        // No Nagle delay: a small response must not wait for the client's delayed ACK.
        let incoming =
            tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let router = tonic::transport::Server::builder()
            .layer(layers)
            .add_routes(self.routes);
        let server: std::pin::Pin<Box<dyn Future<Output = _> + Send>> = match self.tls {
            None => Box::pin(router.serve_with_incoming_shutdown(incoming, signal)),
            Some(tls) => Box::pin(
                router.serve_with_incoming_shutdown(crate::tls::incoming(incoming, tls), signal),
            ),
        };
        let grace = Duration::from_millis(self.config.server.shutdown_grace_ms);
        let grace_elapsed = async move {
            while !*stopping_rx.borrow_and_update() {
                if stopping_rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.map_err(StartupError::from),
            () = grace_elapsed => {
                tracing::warn!(grace_ms = grace.as_millis(), "grace period over: cutting off calls still in flight");
                drain.cut_off();
                Ok(())
            }
        }
    }
}

/// The services every server answers beside its own.
const ALWAYS_SERVED: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// `package.Service/Method` of every method of the `served` services, read from the
/// contract's descriptors.
fn methods_of(served: &[&str]) -> Result<Vec<String>, StartupError> {
    use prost::Message;
    let mut methods = Vec::new();
    for set in [
        welfare_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ] {
        let set = prost_types::FileDescriptorSet::decode(set)
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        for file in set.file {
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                if served.contains(&name.as_str()) {
                    methods.extend(
                        service
                            .method
                            .iter()
                            .map(|m| format!("{name}/{}", m.name())),
                    );
                }
            }
        }
    }
    Ok(methods)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = interrupt => {},
            () = terminate => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
