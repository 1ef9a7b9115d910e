//! Calls only from named clients: a listener restricted to some of the platform's own services
//! (the wallet's hold port answers the booking service only) checks the client certificate the
//! TLS handshake verified — one of its DNS names must be among the allowed. No certificate is
//! `UNAUTHENTICATED` (`CLIENT_CERTIFICATE_REQUIRED`), another service's is `PERMISSION_DENIED`
//! (`CLIENT_NOT_ALLOWED`); health and reflection are answered to anyone who completed the
//! handshake.

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::error::ERROR_DOMAIN;
use crate::future::EarlyOr;
use crate::gate::always_answered;

/// The reason of a call without a client certificate to a listener that names its clients.
pub const CLIENT_CERTIFICATE_REQUIRED: &str = "CLIENT_CERTIFICATE_REQUIRED";
/// The reason of a call whose certificate names none of the allowed clients.
pub const CLIENT_NOT_ALLOWED: &str = "CLIENT_NOT_ALLOWED";

/// The DNS names in a verified client certificate that a listener answers.
#[derive(Debug, Clone)]
pub struct AllowedClients {
    names: Arc<[String]>,
}

impl AllowedClients {
    /// Clients named `names` (e.g. `booking-svc.lodiwelfare.svc`); an invalid name is refused.
    pub fn new(names: &[String]) -> Result<AllowedClients, String> {
        if names.is_empty() {
            return Err("the list of allowed clients is empty".to_owned());
        }
        for name in names {
            ServerName::try_from(name.as_str())
                .map_err(|_| format!("`{name}` is not a DNS name"))?;
        }
        Ok(AllowedClients {
            names: names.into(),
        })
    }

    /// Whether `certificate` (already verified by the handshake) names an allowed client.
    fn admits(&self, certificate: &CertificateDer<'_>) -> bool {
        let Ok(parsed) = rustls::server::ParsedCertificate::try_from(certificate) else {
            return false;
        };
        self.names.iter().any(|name| {
            ServerName::try_from(name.as_str())
                .is_ok_and(|name| rustls::client::verify_server_name(&parsed, &name).is_ok())
        })
    }
}

/// Refuses calls from clients other than the allowed.
#[derive(Debug, Clone)]
pub struct ClientCertLayer {
    allowed: AllowedClients,
}

impl ClientCertLayer {
    pub fn new(allowed: AllowedClients) -> ClientCertLayer {
        ClientCertLayer { allowed }
    }
}

impl<S> Layer<S> for ClientCertLayer {
    type Service = ClientChecked<S>;
    fn layer(&self, inner: S) -> ClientChecked<S> {
        ClientChecked {
            inner,
            allowed: self.allowed.clone(),
        }
    }
}

/// The checked service: see [`ClientCertLayer`].
#[derive(Debug, Clone)]
pub struct ClientChecked<S> {
    inner: S,
    allowed: AllowedClients,
}

fn refusal(code: Code, reason: &str, message: String) -> tonic::Status {
    tonic::Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new()),
    )
}

impl<S, B, R> Service<http::Request<B>> for ClientChecked<S>
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
        if always_answered(path) {
            return EarlyOr::inner(self.inner.call(request));
        }
        let leaf = request
            .extensions()
            .get::<crate::tls::TlsPeer>()
            .and_then(|peer| peer.certificates.as_ref())
            .and_then(|chain| chain.first().cloned());
        let status = match leaf {
            Some(leaf) if self.allowed.admits(&leaf) => {
                return EarlyOr::inner(self.inner.call(request));
            }
            Some(_) => refusal(
                Code::PermissionDenied,
                CLIENT_NOT_ALLOWED,
                format!(
                    "{path} answers only {}: the client certificate names none of them",
                    self.allowed.names.join(", ")
                ),
            ),
            None => refusal(
                Code::Unauthenticated,
                CLIENT_CERTIFICATE_REQUIRED,
                format!("{path} answers only clients with a certificate"),
            ),
        };
        EarlyOr::early(status.into_http())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_names_are_dns_names() {
        assert!(AllowedClients::new(&[]).is_err());
        assert!(AllowedClients::new(&["not a name!".to_owned()]).is_err());
        assert!(AllowedClients::new(&["booking-svc.lodiwelfare.svc".to_owned()]).is_ok());
        // A Service's short name, as the deployed certificates carry it.
        assert!(AllowedClients::new(&["booking-svc".to_owned()]).is_ok());
    }
}
