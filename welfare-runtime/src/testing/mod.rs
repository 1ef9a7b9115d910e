//! What the services' suites and benchmarks need to call a server as its users do: a signed
//! HS256 token for a subject with roles and a tenancy, a request carrying it, a server serving
//! in the background, and ([`seed`]) a platform seeded through its public calls.

pub mod pki;
pub mod seed;

use tonic::Request;
use tonic::metadata::MetadataValue;

use crate::server::Application;

/// The tenant a token's principal acts for, if any.
#[derive(Debug, Clone, Copy)]
pub enum Tenant<'a> {
    None,
    Company(&'a str),
    Provider(&'a str),
}

/// An HS256 token signed with `secret` for `subject` with `roles`, acting for `tenant`, valid
/// until `expires_at` (Unix seconds), with the issuer and audience the runtime expects.
///
/// # Panics
/// When the token cannot be encoded (a test's mistake).
pub fn signed_token(
    secret: &str,
    subject: &str,
    roles: &[&str],
    tenant: Tenant<'_>,
    expires_at: i64,
) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".to_owned(), subject.into());
    claims.insert("iss".to_owned(), "lodiwelfare".into());
    claims.insert("aud".to_owned(), "lodiwelfare".into());
    claims.insert("exp".to_owned(), expires_at.into());
    claims.insert("roles".to_owned(), roles.into());
    match tenant {
        Tenant::None => {}
        Tenant::Company(id) => {
            claims.insert("company_id".to_owned(), id.into());
        }
        Tenant::Provider(id) => {
            claims.insert("provider_id".to_owned(), id.into());
        }
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode a test token")
}

/// A request carrying `token` as its bearer.
///
/// # Panics
/// When the token is not ASCII (a test's mistake).
pub fn with_bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).expect("an ASCII token"),
    );
    request
}

/// An application serving in the background until this guard is dropped.
#[derive(Debug)]
pub struct Serving {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Serves `app` on its (loopback) port until the returned guard is dropped.
pub fn serve_in_background(app: Application) -> Serving {
    let url = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Serving {
        url,
        stop: Some(stop),
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_carries_its_claims_and_a_request_its_bearer() {
        let token = signed_token(
            "testing-secret",
            "lucia",
            &["employee"],
            Tenant::Company("acme"),
            4_000_000_000,
        );
        let mut validation = jsonwebtoken::Validation::default();
        validation.set_audience(&["lodiwelfare"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"testing-secret"),
            &validation,
        )
        .expect("valid")
        .claims;
        assert_eq!(claims["sub"], "lucia");
        assert_eq!(claims["company_id"], "acme");
        assert_eq!(claims["roles"][0], "employee");
        let request = with_bearer((), &token);
        assert_eq!(
            request
                .metadata()
                .get("authorization")
                .map(|v| v.to_str().ok()),
            Some(Some(format!("Bearer {token}").as_str()))
        );
    }
}
