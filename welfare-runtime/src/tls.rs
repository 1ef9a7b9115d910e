//! Transport security: TLS on a listener, mutual TLS between the services, certificates read
//! from PEM files and re-read when they change — a certificate renewed by cert-manager or a
//! rotated Secret takes effect on the next connection, with no restart.
//!
//! The server side ([`ServerTls`], [`incoming`]) hands tonic connections already through the
//! handshake; tonic records the peer and its verified certificates with each call
//! ([`TlsPeer`]), where [`crate::client_cert`] and [`crate::peer`] read them. The client side
//! ([`ClientTls::lazy_channel`]) connects through a connector that takes the configuration
//! current at each new connection. Both use rustls with the `ring` provider.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::config::{ClientTlsConfig, TlsConfig};

/// Longest a client may take over its handshake before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once on a listener; further connections wait to be accepted.
pub const MAX_PENDING_HANDSHAKES: usize = 1_024;

/// How long accepting pauses after the listener fails (out of file descriptors, say).
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The largest certificate or key file read, in bytes.
pub const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// The only application protocol spoken: HTTP/2, which gRPC runs on.
const ALPN_H2: &[u8] = b"h2";

/// Why a TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is larger than {MAX_PEM_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no usable private key: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{0}")]
    Setup(String),
}

/// The crypto provider every configuration is built with.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    let too_large = std::fs::metadata(path)
        .map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?
        .len()
        > MAX_PEM_FILE_BYTES;
    if too_large {
        return Err(TlsError::TooLarge {
            path: path.to_owned(),
        });
    }
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn roots(path: &Path, pem: &[u8]) -> Result<Arc<rustls::RootCertStore>, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    for cert in certificates(path, pem)? {
        store.add(cert).map_err(|e| TlsError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(Arc::new(store))
}

/// What a value is built from: its files' contents, read together.
type Build<T> = dyn Fn(&[(PathBuf, Vec<u8>)]) -> Result<T, TlsError> + Send + Sync;

struct Watched<T> {
    files: Vec<PathBuf>,
    /// The contents the current value was built from.
    contents: Mutex<Vec<(PathBuf, Vec<u8>)>>,
    current: RwLock<Arc<T>>,
    build: Box<Build<T>>,
}

/// A value built from files and rebuilt when they change; readers take the current one.
struct Reloading<T> {
    inner: Arc<Watched<T>>,
}

impl<T> Clone for Reloading<T> {
    fn clone(&self) -> Self {
        Reloading {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> Reloading<T> {
    fn load(
        files: Vec<PathBuf>,
        build: impl Fn(&[(PathBuf, Vec<u8>)]) -> Result<T, TlsError> + Send + Sync + 'static,
    ) -> Result<Reloading<T>, TlsError> {
        let contents = read_all(&files)?;
        let value = build(&contents)?;
        Ok(Reloading {
            inner: Arc::new(Watched {
                files,
                contents: Mutex::new(contents),
                current: RwLock::new(Arc::new(value)),
                build: Box::new(build),
            }),
        })
    }

    fn current(&self) -> Arc<T> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the files: `Ok(true)` when they changed and the new value is in place; an
    /// error (a file missing, half written, a key not matching) keeps the current value.
    fn reload(&self) -> Result<bool, TlsError> {
        reload(&self.inner)
    }

    /// Re-reads the files every `every` for as long as this value is used, on a task of the
    /// current Tokio runtime (without one: an error, not a certificate never reloaded).
    fn watch(&self, every: Duration, what: &'static str) -> Result<(), TlsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            TlsError::Setup(
                "certificates are re-read by a task: load them inside a Tokio runtime".to_owned(),
            )
        })?;
        let weak: Weak<Watched<T>> = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                match reload(&inner) {
                    Ok(true) => tracing::info!(what, "certificates changed: reloaded"),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(what, %error, "certificates not reloaded: keeping the loaded ones")
                    }
                }
            }
        });
        Ok(())
    }
}

fn read_all(files: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, TlsError> {
    files
        .iter()
        .map(|path| Ok((path.clone(), read(path)?)))
        .collect()
}

fn reload<T>(inner: &Watched<T>) -> Result<bool, TlsError> {
    let contents = read_all(&inner.files)?;
    let mut seen = inner
        .contents
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if *seen == contents {
        return Ok(false);
    }
    let value = (inner.build)(&contents)?;
    *inner
        .current
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(value);
    *seen = contents;
    Ok(true)
}

/// The expiry of certificates in use, Unix seconds, by `role` (`server`, `client`): recorded at
/// each load, so an alert sees a renewal that never came.
pub const METRIC_CERTIFICATE_EXPIRY: &str = "lodiwelfare.tls.certificate.expiry";

/// Records when `leaf` expires, for `role`.
fn record_expiry(role: &'static str, leaf: Option<&CertificateDer<'_>>) {
    static EXPIRY: std::sync::OnceLock<opentelemetry::metrics::Gauge<i64>> =
        std::sync::OnceLock::new();
    let Some(expires) = leaf.and_then(|leaf| not_after(leaf)) else {
        tracing::warn!(role, "the certificate's expiry could not be read");
        return;
    };
    EXPIRY
        .get_or_init(|| {
            opentelemetry::global::meter("welfare-runtime")
                .i64_gauge(METRIC_CERTIFICATE_EXPIRY)
                .with_unit("s")
                .with_description("when the certificate in use expires (Unix time), by role")
                .build()
        })
        .record(expires, &[opentelemetry::KeyValue::new("role", role)]);
}

/// One DER element: its tag and contents, and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let length = bytes
            .iter()
            .fold(0usize, |length, &b| (length << 8) | usize::from(b));
        (length, rest)
    };
    let (contents, rest) = rest.split_at_checked(length)?;
    Some((tag, contents, rest))
}

/// When a certificate (DER) expires, Unix seconds: `notAfter` of its validity.
fn not_after(certificate: &[u8]) -> Option<i64> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, certificate, _) = der_element(certificate)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der_element(certificate)? else {
        return None;
    };
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    let mut rest = tbs;
    let (tag, _, after) = der_element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..3 {
        rest = der_element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = der_element(rest)? else {
        return None;
    };
    let (_, after_not_before) = der_element(validity).map(|(_, _, r)| ((), r))?;
    let (tag, time, _) = der_element(after_not_before)?;
    let text = std::str::from_utf8(time).ok()?;
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match (tag, digits.len()) {
        // UTCTime: YYMMDDHHMMSS, years 1950 to 2049.
        (0x17, 12) => {
            let yy: i64 = digits.get(..2)?.parse().ok()?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                digits.get(2..)?,
            )
        }
        // GeneralizedTime: YYYYMMDDHHMMSS.
        (0x18, 14) => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let field = |at: usize| -> Option<i64> { rest.get(at..at + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Which client certificates a listener asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// None: callers are known by their tokens alone.
    NotAsked,
    /// Verified against the client authorities when presented.
    Optional,
    /// A connection without a valid one is refused in the handshake.
    Required,
}

impl ClientCerts {
    /// What a listener asks for under `config`, and `restricted` (a listener answering only
    /// named clients).
    pub fn for_listener(config: &TlsConfig, restricted: bool) -> ClientCerts {
        match (
            &config.client_ca_file,
            restricted || config.require_client_cert,
        ) {
            (None, _) => ClientCerts::NotAsked,
            (Some(_), true) => ClientCerts::Required,
            (Some(_), false) => ClientCerts::Optional,
        }
    }
}

/// A listener's TLS configuration, kept current with its files.
#[derive(Clone)]
pub struct ServerTls {
    config: Reloading<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.config.inner.files)
            .finish()
    }
}

impl ServerTls {
    /// Loads the certificate, key and client authorities of `config`, and watches them.
    pub fn load(config: &TlsConfig, client_certs: ClientCerts) -> Result<ServerTls, TlsError> {
        if client_certs != ClientCerts::NotAsked && config.client_ca_file.is_none() {
            return Err(TlsError::Setup(
                "client certificates are required here: set server.tls.client_ca_file".to_owned(),
            ));
        }
        let mut files = vec![config.cert_file.clone(), config.key_file.clone()];
        files.extend(config.client_ca_file.clone());
        let reloading =
            Reloading::load(files, move |contents| server_config(contents, client_certs))?;
        reloading.watch(Duration::from_secs(config.reload_seconds), "server")?;
        Ok(ServerTls { config: reloading })
    }

    /// Re-reads the files now (the watch does it every `reload_seconds`).
    pub fn reload(&self) -> Result<bool, TlsError> {
        self.config.reload()
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.current())
    }
}

fn server_config(
    contents: &[(PathBuf, Vec<u8>)],
    client_certs: ClientCerts,
) -> Result<rustls::ServerConfig, TlsError> {
    let [(cert_path, cert_pem), (key_path, key_pem), client_ca @ ..] = contents else {
        return Err(TlsError::Setup(
            "a certificate and its key are needed".to_owned(),
        ));
    };
    let chain = certificates(cert_path, cert_pem)?;
    let key = private_key(key_path, key_pem)?;
    let leaf = chain.first().cloned();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let builder = match client_ca {
        [(ca_path, ca_pem)] if client_certs != ClientCerts::NotAsked => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots(ca_path, ca_pem)?,
                provider(),
            );
            let verifier = if client_certs == ClientCerts::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| TlsError::Invalid {
                path: ca_path.clone(),
                reason: e.to_string(),
            })?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Key {
            path: key_path.clone(),
            reason: format!("it does not go with {}: {e}", cert_path.display()),
        })?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    record_expiry("server", leaf.as_ref());
    Ok(config)
}

/// The connections of `listener` that complete a TLS handshake under the configuration
/// current when each arrives. Handshakes run side by side (at most
/// [`MAX_PENDING_HANDSHAKES`]), each bounded by [`HANDSHAKE_TIMEOUT`]; a failed one is logged
/// and dropped. Accepting stops when the returned stream is dropped.
pub fn incoming<S>(
    mut listener: S,
    tls: ServerTls,
) -> impl Stream<Item = Result<TlsConnection, io::Error>>
where
    S: Stream<Item = Result<TcpStream, io::Error>> + Unpin + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(MAX_PENDING_HANDSHAKES);
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                () = tx.closed() => return,
                permit = pending.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let accepted = tokio::select! {
                () = tx.closed() => return,
                accepted = listener.next() => accepted,
            };
            let stream = match accepted {
                Some(Ok(stream)) => stream,
                Some(Err(error)) => {
                    // Out of file descriptors, say: pause rather than spin on the error.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
                None => return,
            };
            let (acceptor, tx) = (tls.acceptor(), tx.clone());
            tokio::spawn(async move {
                let peer = stream.peer_addr().ok();
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(TlsConnection(stream))).await;
                    }
                    Ok(Err(error)) => tracing::debug!(?peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                }
                drop(permit);
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A connection through its TLS handshake, as tonic serves it: the peer's address and its
/// verified certificates recorded with every call ([`TlsPeer`]).
#[derive(Debug)]
pub struct TlsConnection(tokio_rustls::server::TlsStream<TcpStream>);

/// Who is at the other end of a TLS connection: tonic puts it in each call's extensions.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    pub tcp: TcpConnectInfo,
    /// The client's certificate chain, leaf first, when it presented one (verified by the
    /// handshake against `client_ca_file`).
    pub certificates: Option<Arc<[CertificateDer<'static>]>>,
}

impl Connected for TlsConnection {
    type ConnectInfo = TlsPeer;

    fn connect_info(&self) -> TlsPeer {
        let (tcp, session) = self.0.get_ref();
        TlsPeer {
            tcp: tcp.connect_info(),
            certificates: session
                .peer_certificates()
                .map(|certs| certs.iter().map(|cert| cert.clone().into_owned()).collect()),
        }
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// How this service calls others over TLS, kept current with its files.
#[derive(Clone)]
pub struct ClientTls {
    config: Reloading<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("files", &self.config.inner.files)
            .finish()
    }
}

impl ClientTls {
    /// Loads the trusted authorities and the client certificate of `config`, and watches them.
    pub fn load(config: &ClientTlsConfig) -> Result<ClientTls, TlsError> {
        let mut files = vec![config.ca_file.clone()];
        match (&config.cert_file, &config.key_file) {
            (Some(cert), Some(key)) => files.extend([cert.clone(), key.clone()]),
            (None, None) => {}
            _ => {
                return Err(TlsError::Setup(
                    "a client certificate needs both cert_file and key_file".to_owned(),
                ));
            }
        }
        let reloading = Reloading::load(files, client_config)?;
        reloading.watch(Duration::from_secs(config.reload_seconds), "client")?;
        Ok(ClientTls { config: reloading })
    }

    /// Re-reads the files now (the watch does it every `reload_seconds`).
    pub fn reload(&self) -> Result<bool, TlsError> {
        self.config.reload()
    }

    /// A channel to `url` (`https://host:port`) that connects on first use, each connection
    /// with the configuration current then, and gives up connecting after `timeout`.
    pub fn lazy_channel(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        Ok(tonic::transport::Endpoint::from_shared(url.to_owned())?
            .connect_timeout(timeout)
            .connect_with_connector_lazy(Connector { tls: self.clone() }))
    }
}

fn client_config(contents: &[(PathBuf, Vec<u8>)]) -> Result<rustls::ClientConfig, TlsError> {
    let [(ca_path, ca_pem), identity @ ..] = contents else {
        return Err(TlsError::Setup(
            "the authorities to trust are needed".to_owned(),
        ));
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots(ca_path, ca_pem)?);
    let (mut config, leaf) = match identity {
        [(cert_path, cert_pem), (key_path, key_pem)] => {
            let chain = certificates(cert_path, cert_pem)?;
            let leaf = chain.first().cloned();
            let config = builder
                .with_client_auth_cert(chain, private_key(key_path, key_pem)?)
                .map_err(|e| TlsError::Key {
                    path: key_path.clone(),
                    reason: format!("it does not go with {}: {e}", cert_path.display()),
                })?;
            (config, leaf)
        }
        _ => (builder.with_no_client_auth(), None),
    };
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    if leaf.is_some() {
        record_expiry("client", leaf.as_ref());
    }
    Ok(config)
}

type Connecting = Pin<
    Box<
        dyn Future<
                Output = Result<
                    hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<TcpStream>>,
                    io::Error,
                >,
            > + Send,
    >,
>;

/// Opens TCP connections and runs the TLS handshake, naming the server by the URL's host.
#[derive(Clone)]
struct Connector {
    tls: ClientTls,
}

impl tower::Service<http::Uri> for Connector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Connecting {
        let connector = tokio_rustls::TlsConnector::from(self.tls.config.current());
        Box::pin(async move {
            let invalid =
                |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: {what}"));
            if uri.scheme_str() != Some("https") {
                return Err(invalid("TLS is configured: the address must be https://"));
            }
            let host = uri.host().ok_or_else(|| invalid("no host"))?;
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let name =
                ServerName::try_from(host.clone()).map_err(|_| invalid("not a server name"))?;
            let tcp = TcpStream::connect((host.as_str(), uri.port_u16().unwrap_or(443))).await?;
            tcp.set_nodelay(true)?;
            let stream = connector.connect(name, tcp).await?;
            Ok(hyper_util::rt::TokioIo::new(stream))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pki::{TestPki, Usage};

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "lodiwelfare-tls-unit-{name}-{}",
            crate::uuid::new_uuid()
        ))
    }

    fn server_config(pki: &TestPki) -> TlsConfig {
        let issued = pki.issue("server", &["localhost"], Usage::Server);
        TlsConfig {
            cert_file: issued.cert_file,
            key_file: issued.key_file,
            client_ca_file: None,
            require_client_cert: false,
            reload_seconds: 3_600,
        }
    }

    #[tokio::test]
    async fn a_broken_renewal_keeps_the_loaded_certificate_and_a_good_one_replaces_it() {
        let dir = scratch("reload");
        let pki = TestPki::new(&dir, "lodi");
        let config = server_config(&pki);
        let tls = ServerTls::load(&config, ClientCerts::NotAsked).expect("load");
        let loaded = tls.config.current();
        assert!(!tls.reload().expect("unchanged"), "nothing changed");

        // Half written: the error names the file, the loaded configuration stays.
        std::fs::write(&config.cert_file, "-----BEGIN CERTIFICATE-----\ngarbage").expect("write");
        let error = tls.reload().expect_err("a broken certificate");
        assert!(error.to_string().contains("server.pem"), "{error}");
        assert!(Arc::ptr_eq(&loaded, &tls.config.current()));

        // A certificate with another's key: named, and kept out.
        let other = pki.issue("other", &["localhost"], Usage::Server);
        std::fs::copy(&other.cert_file, &config.cert_file).expect("copy");
        let error = tls.reload().expect_err("a key of another certificate");
        assert!(error.to_string().contains("does not go with"), "{error}");
        assert!(Arc::ptr_eq(&loaded, &tls.config.current()));

        // The renewed pair: in place.
        pki.issue("server", &["localhost"], Usage::Server);
        assert!(tls.reload().expect("renewed"));
        assert!(!Arc::ptr_eq(&loaded, &tls.config.current()));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_certificates_expiry_is_read_from_its_validity() {
        let key = rcgen::KeyPair::generate().expect("key");
        for (year, month, day) in [(2027, 3, 1), (2049, 12, 31), (2051, 1, 15), (2024, 2, 29)] {
            let mut params =
                rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
            params.not_after = rcgen::date_time_ymd(year, month, day);
            let cert = params.self_signed(&key).expect("certificate");
            let expected =
                days_from_civil(i64::from(year), i64::from(month), i64::from(day)) * 86_400;
            assert_eq!(
                not_after(cert.der()),
                Some(expected),
                "{year}-{month}-{day}"
            );
        }
        // 2027-03-01 is 20,878 days after 1970-01-01.
        assert_eq!(days_from_civil(2027, 3, 1), 20_878);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            not_after(b"\x30\x03\x02\x01\x01"),
            None,
            "not a certificate"
        );
        assert_eq!(not_after(&[]), None);
    }

    #[tokio::test]
    async fn settings_that_cannot_work_are_named() {
        let dir = scratch("settings");
        let pki = TestPki::new(&dir, "lodi");
        let config = server_config(&pki);
        let error = ServerTls::load(&config, ClientCerts::Required).expect_err("no authority");
        assert!(error.to_string().contains("client_ca_file"), "{error}");

        let mut no_key = config.clone();
        no_key.key_file = config.cert_file.clone();
        let error = ServerTls::load(&no_key, ClientCerts::NotAsked).expect_err("no key");
        assert!(
            error.to_string().contains("no usable private key"),
            "{error}"
        );

        let mut no_cert = config.clone();
        no_cert.cert_file = config.key_file.clone();
        let error = ServerTls::load(&no_cert, ClientCerts::NotAsked).expect_err("no certificate");
        assert!(error.to_string().contains("no PEM certificate"), "{error}");

        let half = ClientTlsConfig {
            ca_file: pki.ca_file(),
            cert_file: Some(config.cert_file.clone()),
            key_file: None,
            reload_seconds: 30,
        };
        let error = ClientTls::load(&half).expect_err("a certificate without its key");
        assert!(
            error.to_string().contains("cert_file and key_file"),
            "{error}"
        );

        let mut optional = config.clone();
        optional.client_ca_file = Some(pki.ca_file());
        assert_eq!(
            ClientCerts::for_listener(&optional, false),
            ClientCerts::Optional
        );
        assert_eq!(
            ClientCerts::for_listener(&optional, true),
            ClientCerts::Required
        );
        assert_eq!(
            ClientCerts::for_listener(&config, false),
            ClientCerts::NotAsked
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn certificates_loaded_outside_a_runtime_are_an_error_not_a_panic() {
        let dir = scratch("no-runtime");
        let pki = TestPki::new(&dir, "lodi");
        let error = ClientTls::load(&ClientTlsConfig {
            ca_file: pki.ca_file(),
            cert_file: None,
            key_file: None,
            reload_seconds: 30,
        })
        .expect_err("no runtime to re-read them on");
        assert!(error.to_string().contains("Tokio runtime"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_client_refuses_an_address_that_is_not_https() {
        let dir = scratch("scheme");
        let pki = TestPki::new(&dir, "lodi");
        let tls = ClientTls::load(&ClientTlsConfig {
            ca_file: pki.ca_file(),
            cert_file: None,
            key_file: None,
            reload_seconds: 30,
        })
        .expect("client");
        let mut connector = Connector { tls };
        let error =
            tower::Service::call(&mut connector, "http://localhost:1".parse().expect("uri"))
                .await
                .expect_err("plaintext address");
        assert!(error.to_string().contains("https://"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
