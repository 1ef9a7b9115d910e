//! Authentication: a bearer JWT checked for issuer, audience, expiry and signature (HS256 for
//! development, RS256/ES256 for production) becomes a [`Principal`] with roles and tenancy in
//! the request's extensions. Missing, malformed, expired, wrongly signed or wrong-audience
//! tokens are `UNAUTHENTICATED`; methods declared public accept calls without a token as the
//! anonymous principal, but never a bad token.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tower::{Layer, Service};
use welfare_core::auth::{Principal, Role};
use welfare_core::ids::{CompanyId, PersonId, ProviderId};

use crate::config::{AuthConfig, JwtAlgorithm};
use crate::error::ServiceError;
use crate::future::EarlyOr;

/// Paths every server answers without a token: health checks and reflection.
const ALWAYS_PUBLIC_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];
/// Whether `path` is a health check or reflection: answered without a token, and never
/// refused by the rate limiter or the concurrency cap (an orchestrator's probe under load must
/// see the truth, not a refusal).
pub fn is_infrastructure(path: &str) -> bool {
    ALWAYS_PUBLIC_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// The longest bearer token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why the verifier could not be built from configuration.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("auth.hs256_secret is required for HS256 and must be at least 32 bytes")]
    Secret,
    #[error("auth.public_key_pem or auth.public_key_file is required for {0:?}")]
    MissingKey(JwtAlgorithm),
    #[error("cannot read auth.public_key_file {path}: {source}")]
    KeyFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("auth public key is not a valid PEM key for {algorithm:?}: {message}")]
    Key {
        algorithm: JwtAlgorithm,
        message: String,
    },
    #[error("auth.issuer and auth.audience must not be empty")]
    Claims,
    #[error(transparent)]
    Jwks(#[from] crate::jwks::JwksError),
}

/// The claims LodiWelfare tokens carry beyond the registered ones.
#[derive(Debug, Deserialize)]
struct Claims {
    /// Required; optional here so that a token without it is refused as one missing a claim,
    /// like one without `exp`.
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    provider_id: Option<String>,
    #[serde(default)]
    company_id: Option<String>,
}

/// Why a token was refused; each is `UNAUTHENTICATED` with its own reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("bearer token is missing")]
    Missing,
    #[error("authorization header is not a bearer token")]
    NotBearer,
    #[error("bearer token is malformed")]
    Malformed,
    #[error("bearer token has expired")]
    Expired,
    #[error("bearer token is not yet valid")]
    NotYetValid,
    #[error("bearer token signature is invalid")]
    BadSignature,
    #[error("bearer token names a key this server does not hold (kid)")]
    UnknownKey,
    #[error("bearer token has the wrong audience")]
    WrongAudience,
    #[error("bearer token has the wrong issuer")]
    WrongIssuer,
    #[error("bearer token claims are invalid: {0}")]
    Claims(String),
}

impl TokenError {
    pub const fn reason(&self) -> &'static str {
        match self {
            TokenError::Missing => "TOKEN_MISSING",
            TokenError::NotBearer | TokenError::Malformed => "TOKEN_MALFORMED",
            TokenError::Expired => "TOKEN_EXPIRED",
            TokenError::NotYetValid => "TOKEN_NOT_YET_VALID",
            TokenError::BadSignature => "TOKEN_BAD_SIGNATURE",
            TokenError::UnknownKey => "TOKEN_UNKNOWN_KEY",
            TokenError::WrongAudience => "TOKEN_WRONG_AUDIENCE",
            TokenError::WrongIssuer => "TOKEN_WRONG_ISSUER",
            TokenError::Claims(_) => "TOKEN_INVALID_CLAIMS",
        }
    }

    fn into_service_error(self) -> ServiceError {
        ServiceError::Unauthenticated {
            reason: self.reason(),
            message: self.to_string(),
        }
    }
}

/// Checks bearer tokens against the configured key, issuer and audience.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: Keys,
    validation: Validation,
}

/// The key or keys tokens are checked against.
#[derive(Clone)]
enum Keys {
    One(DecodingKey),
    /// Chosen by `kid` from a JWKS document (`crate::jwks`).
    Ring(Arc<crate::jwks::KeyRing>),
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    pub fn from_config(config: &AuthConfig) -> Result<JwtVerifier, AuthSetupError> {
        if config.issuer.trim().is_empty() || config.audience.trim().is_empty() {
            return Err(AuthSetupError::Claims);
        }
        let algorithm = match config.algorithm {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        };
        let validation = || {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[config.issuer.trim()]);
            validation.set_audience(&[config.audience.trim()]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = config.leeway_seconds;
            validation
        };
        if let Some(path) = &config.jwks_file {
            let ring = crate::jwks::KeyRing::load(
                path,
                std::time::Duration::from_secs(config.jwks_refresh_seconds),
            )?;
            return Ok(JwtVerifier {
                keys: Keys::Ring(Arc::new(ring)),
                validation: validation(),
            });
        }
        let (_, key) = match config.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = config
                    .hs256_secret
                    .as_ref()
                    .filter(|s| s.expose().len() >= 32)
                    .ok_or(AuthSetupError::Secret)?;
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.expose().as_bytes()),
                )
            }
            asymmetric => {
                let pem = match (&config.public_key_pem, &config.public_key_file) {
                    (Some(pem), _) => pem.clone().into_bytes(),
                    (None, Some(path)) => {
                        std::fs::read(path).map_err(|source| AuthSetupError::KeyFile {
                            path: path.clone(),
                            source,
                        })?
                    }
                    (None, None) => return Err(AuthSetupError::MissingKey(asymmetric)),
                };
                let bad_key = |e: jsonwebtoken::errors::Error| AuthSetupError::Key {
                    algorithm: asymmetric,
                    message: e.to_string(),
                };
                if asymmetric == JwtAlgorithm::RS256 {
                    (
                        Algorithm::RS256,
                        DecodingKey::from_rsa_pem(&pem).map_err(bad_key)?,
                    )
                } else {
                    (
                        Algorithm::ES256,
                        DecodingKey::from_ec_pem(&pem).map_err(bad_key)?,
                    )
                }
            }
        };
        Ok(JwtVerifier {
            keys: Keys::One(key),
            validation: validation(),
        })
    }

    /// Verifies a token and builds the principal it names.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let ring_key;
        let key = match &self.keys {
            Keys::One(key) => key,
            Keys::Ring(ring) => {
                let header =
                    jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
                ring_key = ring
                    .key(header.kid.as_deref())
                    .ok_or(TokenError::UnknownKey)?;
                &ring_key
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    TokenError::BadSignature
                }
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Claims(format!("missing {claim}"))
                }
                // The token decoded, but its claims are not what a LodiWelfare token carries
                // (a claim of the wrong type, say).
                ErrorKind::Json(error) => TokenError::Claims(error.to_string()),
                _ => TokenError::Malformed,
            }
        })?;
        let claims = data.claims;
        let sub = claims
            .sub
            .ok_or_else(|| TokenError::Claims("missing sub".to_owned()))?;
        let subject = PersonId::parse(&sub).map_err(|e| TokenError::Claims(format!("sub: {e}")))?;
        let roles = claims
            .roles
            .iter()
            .map(|code| {
                Role::from_code(code)
                    .ok_or_else(|| TokenError::Claims(format!("unknown role {code:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut principal = Principal::new(subject, roles);
        if let Some(id) = claims.provider_id {
            principal = principal.for_provider(
                ProviderId::parse(&id)
                    .map_err(|e| TokenError::Claims(format!("provider_id: {e}")))?,
            );
        }
        if let Some(id) = claims.company_id {
            principal = principal.for_company(
                CompanyId::parse(&id)
                    .map_err(|e| TokenError::Claims(format!("company_id: {e}")))?,
            );
        }
        Ok(principal)
    }

    /// Reads the `authorization` header value: `Bearer <token>`.
    pub fn verify_header(
        &self,
        header: Option<&http::HeaderValue>,
    ) -> Result<Principal, TokenError> {
        let header = header.ok_or(TokenError::Missing)?;
        let text = header.to_str().map_err(|_| TokenError::NotBearer)?;
        let (scheme, token) = text.split_once(' ').ok_or(TokenError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::NotBearer);
        }
        self.verify(token.trim())
    }
}

/// Adds authentication to a service stack.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: Arc<JwtVerifier>,
    public_methods: Arc<HashSet<String>>,
    /// Failed authentications per client address, when limited.
    failures: Option<crate::rate_limit::FailureLimiter>,
    trusted_proxies: Arc<[std::net::IpAddr]>,
}

impl AuthLayer {
    /// `public_methods` are full gRPC paths (`/welfare.catalog.v1.CatalogService/SearchListings`)
    /// that answer callers without a token.
    pub fn new(
        verifier: JwtVerifier,
        public_methods: impl IntoIterator<Item = String>,
    ) -> AuthLayer {
        AuthLayer {
            verifier: Arc::new(verifier),
            public_methods: Arc::new(public_methods.into_iter().collect()),
            failures: None,
            trusted_proxies: Arc::from([]),
        }
    }

    /// Limits failed authentications per client address (`crate::peer`, through
    /// `trusted_proxies`) to `per_second` with `burst`, tracking at most `max_addresses`: past
    /// them, that address's calls with a token are refused with `RESOURCE_EXHAUSTED`
    /// (`AUTH_FAILURES_LIMITED`) before any token is checked, until its bucket refills.
    pub fn limiting_failures(
        mut self,
        per_second: u32,
        burst: u32,
        max_addresses: usize,
        trusted_proxies: &[std::net::IpAddr],
    ) -> AuthLayer {
        self.failures = Some(crate::rate_limit::FailureLimiter::new(
            per_second,
            burst,
            max_addresses,
        ));
        self.trusted_proxies = Arc::from(trusted_proxies);
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The authentication service: see [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, B, R> Service<http::Request<B>> for Auth<S>
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let public = is_infrastructure(path) || self.layer.public_methods.contains(path);
        let header = request.headers().get(http::header::AUTHORIZATION);
        let address = self
            .layer
            .failures
            .as_ref()
            .and_then(|_| crate::peer::client_address(&request, &self.layer.trusted_proxies));
        if let (Some(failures), Some(address), false) =
            (&self.layer.failures, address, header.is_none() && public)
            && !failures.allows(address)
        {
            let error = ServiceError::ResourceExhausted {
                reason: "AUTH_FAILURES_LIMITED",
                message: "too many failed authentications from this address: wait, then \
                          retry with a valid token"
                    .to_owned(),
            };
            return EarlyOr::early(error.to_status().into_http());
        }
        let principal = match (header, public) {
            (None, true) => Ok(Principal::anonymous()),
            (header, _) => self.layer.verifier.verify_header(header),
        };
        match principal {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                EarlyOr::inner(self.inner.call(request))
            }
            Err(error) => {
                tracing::debug!(reason = error.reason(), "refused bearer token");
                if let (Some(failures), Some(address)) = (&self.layer.failures, address) {
                    failures.charge(address);
                }
                EarlyOr::early(error.into_service_error().to_status().into_http())
            }
        }
    }
}

/// A token naming one of the platform's own services (`subject`, with `role`), signed with the
/// HS256 development secret and valid for `lifetime_seconds` from `now`: how the embedded and
/// development deployments give the booking service its identity towards the wallet. `None`
/// unless the configuration is HS256 with a secret; production services are given a token by
/// the identity provider instead.
pub fn development_service_token(
    config: &AuthConfig,
    subject: &str,
    role: Role,
    now: i64,
    lifetime_seconds: i64,
) -> Option<String> {
    let subject = PersonId::parse(subject).ok()?;
    development_token(
        config,
        &Principal::new(subject, vec![role]),
        now,
        lifetime_seconds,
    )
}

/// A token for `principal` (its subject, roles and tenancy), signed with the HS256 development
/// secret and valid for `lifetime_seconds` from `now`: what `lodiwelfare token` mints. `None`
/// for an anonymous principal, or unless the configuration is HS256 with a secret.
pub fn development_token(
    config: &AuthConfig,
    principal: &Principal,
    now: i64,
    lifetime_seconds: i64,
) -> Option<String> {
    let secret = match config.algorithm {
        JwtAlgorithm::HS256 => config.hs256_secret.as_ref()?,
        JwtAlgorithm::RS256 | JwtAlgorithm::ES256 => return None,
    };
    let mut claims = serde_json::Map::new();
    claims.insert(
        "sub".to_owned(),
        principal.subject.as_ref()?.as_str().into(),
    );
    claims.insert("iss".to_owned(), config.issuer.trim().into());
    claims.insert("aud".to_owned(), config.audience.trim().into());
    claims.insert("iat".to_owned(), now.into());
    claims.insert(
        "exp".to_owned(),
        now.saturating_add(lifetime_seconds).into(),
    );
    let roles: Vec<&str> = principal.roles.iter().map(|r| r.code()).collect();
    claims.insert("roles".to_owned(), roles.into());
    if let Some(provider) = &principal.provider_id {
        claims.insert("provider_id".to_owned(), provider.as_str().into());
    }
    if let Some(company) = &principal.company_id {
        claims.insert("company_id".to_owned(), company.as_str().into());
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .ok()
}

/// The principal the auth layer placed on a request (anonymous if there is none).
pub fn principal<T>(request: &tonic::Request<T>) -> Principal {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_development_service_token_is_verified_by_the_same_configuration() {
        let mut config = AuthConfig {
            hs256_secret: Some(crate::config::Secret::new(
                "a-development-secret-of-32-bytes!",
            )),
            ..AuthConfig::default()
        };
        // The verifier reads the system clock: sign from it.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let token =
            development_service_token(&config, "booking-svc", Role::BookingService, now, 60)
                .expect("an HS256 configuration signs");
        let verifier = JwtVerifier::from_config(&config).expect("verifier");
        let principal = verifier.verify(&token).expect("valid");
        assert!(principal.is_service());
        assert_eq!(
            principal.subject.as_ref().map(PersonId::as_str),
            Some("booking-svc")
        );
        let operator = Principal::new(
            PersonId::parse("op-1").expect("id"),
            vec![Role::ProviderOperator],
        )
        .for_provider(ProviderId::parse("coop-1").expect("id"));
        let minted = development_token(&config, &operator, now, 60).expect("signed");
        assert_eq!(verifier.verify(&minted).expect("valid"), operator);
        assert_eq!(
            development_token(&config, &Principal::anonymous(), now, 60),
            None
        );
        config.algorithm = JwtAlgorithm::ES256;
        assert_eq!(
            development_service_token(&config, "booking-svc", Role::BookingService, now, 60),
            None
        );
    }

    use crate::config::Secret;
    use serde_json::json;

    const SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!";

    fn verifier() -> JwtVerifier {
        let config = AuthConfig {
            hs256_secret: Some(Secret::new(SECRET)),
            ..AuthConfig::default()
        };
        JwtVerifier::from_config(&config).expect("valid config")
    }

    fn token(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encode")
    }

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs(),
        )
        .expect("fits")
    }

    #[test]
    fn a_valid_token_becomes_a_principal_with_tenancy() {
        let claims = json!({"sub": "anna", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60,
            "roles": ["provider_operator"], "provider_id": "coop-1"});
        let principal = verifier().verify(&token(claims, SECRET)).expect("valid");
        assert!(principal.has(Role::ProviderOperator));
        assert_eq!(
            principal.provider_id.as_ref().map(ProviderId::as_str),
            Some("coop-1")
        );
    }

    #[test]
    fn every_kind_of_bad_token_is_refused_with_its_reason() {
        let base = |exp: i64, aud: &str| json!({"sub": "anna", "iss": "lodiwelfare", "aud": aud, "exp": exp});
        let v = verifier();
        assert_eq!(
            v.verify(&token(base(now() - 3_600, "lodiwelfare"), SECRET)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            v.verify(&token(base(now() + 60, "someone-else"), SECRET)),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            v.verify(&token(
                base(now() + 60, "lodiwelfare"),
                "another-secret-that-is-32-bytes-long"
            )),
            Err(TokenError::BadSignature)
        );
        assert_eq!(v.verify("not.a.jwt"), Err(TokenError::Malformed));
        let role = json!({"sub": "anna", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60, "roles": ["king"]});
        assert!(matches!(
            v.verify(&token(role, SECRET)),
            Err(TokenError::Claims(_))
        ));
        // A missing claim, an unreadable one: the same family, naming the claim.
        let no_sub = json!({"iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60});
        let no_exp = json!({"sub": "anna", "iss": "lodiwelfare", "aud": "lodiwelfare"});
        let bad_roles = json!({"sub": "anna", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60, "roles": "citizen"});
        for (claims, names) in [
            (no_sub, "missing sub"),
            (no_exp, "missing exp"),
            (bad_roles, ""),
        ] {
            let refused = v.verify(&token(claims, SECRET)).expect_err("refused");
            assert_eq!(refused.reason(), "TOKEN_INVALID_CLAIMS", "{refused}");
            assert!(refused.to_string().contains(names), "{refused}");
        }
        assert_eq!(v.verify_header(None), Err(TokenError::Missing));
        let basic = http::HeaderValue::from_static("Basic abc");
        assert_eq!(v.verify_header(Some(&basic)), Err(TokenError::NotBearer));
    }

    /// A throwaway P-256 key pair made for this test (never used anywhere else).
    const ES256_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnsNFQ29rrxEe5r6W
M6egDjzaZEQ4p1a1r3t2HG6wLa+hRANCAASt+TFOd2y6R2AZijqehdEdenVneL6s
u8v50v+Kt3HngrV2c0JqlZTWvc/U/ADMAHUQaqVkbzrD61qYTzkZDhH+
-----END PRIVATE KEY-----
";
    const ES256_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErfkxTndsukdgGYo6noXRHXp1Z3i+
rLvL+dL/irdx54K1dnNCapWU1r3P1PwAzAB1EGqlZG86w+tamE85GQ4R/g==
-----END PUBLIC KEY-----
";

    /// Keys rotate by `kid` through a JWKS file: old and new accepted during the overlap, the
    /// old refused once it leaves the document; a broken document keeps the loaded keys.
    #[test]
    fn keys_rotate_by_kid_through_a_jwks_file() {
        use jsonwebtoken::jwk::{Jwk, JwkSet};
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let dir = std::env::temp_dir().join(format!("welfare-jwks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("jwks.json");
        let private = EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).expect("private key");
        let secret_b = EncodingKey::from_secret(b"the-second-key-of-32-bytes-or-more!");
        let jwk = |key: &EncodingKey, alg: Algorithm, kid: &str| {
            let mut jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
            jwk.common.key_id = Some(kid.to_owned());
            jwk
        };
        let old = jwk(&private, Algorithm::ES256, "2026-old");
        // A second throwaway P-256 key made for this test (openssl genpkey), never used
        // anywhere else.
        let new = EncodingKey::from_ec_pem(
            b"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGrmmgE60bnP60wtZ
jhouaLsHMV3BFyIbWcVUBIThnpqhRANCAAQKdu70CF51Zvg0FPbYTT6Veu/AvT6m
VwiqwhCNDxUblHCOKNISyymB2kXOu8PQAjTqaHqYL/0dINPEQHiRT+Er
-----END PRIVATE KEY-----
",
        )
        .expect("second key");
        let new_jwk = jwk(&new, Algorithm::ES256, "2026-new");
        let write = |keys: Vec<Jwk>| {
            std::fs::write(
                &file,
                serde_json::to_string(&JwkSet { keys }).expect("json"),
            )
            .expect("write");
        };
        let signed = |key: &EncodingKey, kid: Option<&str>| {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = kid.map(str::to_owned);
            let claims = json!({"sub": "payroll", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60});
            jsonwebtoken::encode(&header, &claims, key).expect("sign")
        };
        let config = AuthConfig {
            algorithm: JwtAlgorithm::ES256,
            jwks_file: Some(file.clone()),
            jwks_refresh_seconds: 0,
            ..AuthConfig::default()
        };
        let missing = JwtVerifier::from_config(&config).expect_err("no file yet");
        assert!(missing.to_string().contains("jwks.json"), "{missing}");
        write(vec![old.clone()]);
        let verifier = JwtVerifier::from_config(&config).expect("keys");
        let by_old = signed(&private, Some("2026-old"));
        let by_new = signed(&new, Some("2026-new"));
        assert!(verifier.verify(&by_old).is_ok());
        assert!(
            verifier.verify(&signed(&private, None)).is_ok(),
            "one key: no kid needed"
        );
        assert_eq!(verifier.verify(&by_new), Err(TokenError::UnknownKey));
        // The overlap: both keys in the document.
        write(vec![old.clone(), new_jwk.clone()]);
        assert!(verifier.verify(&by_old).is_ok());
        assert!(verifier.verify(&by_new).is_ok());
        assert_eq!(
            verifier.verify(&signed(&private, None)),
            Err(TokenError::UnknownKey),
            "several keys: a token names its own"
        );
        // A token claiming the new key's kid but signed with the old key.
        assert_eq!(
            verifier.verify(&signed(&private, Some("2026-new"))),
            Err(TokenError::BadSignature)
        );
        // After it: the old key is gone, and so are its tokens.
        write(vec![new_jwk.clone()]);
        assert_eq!(verifier.verify(&by_old), Err(TokenError::UnknownKey));
        assert_eq!(TokenError::UnknownKey.reason(), "TOKEN_UNKNOWN_KEY");
        assert!(verifier.verify(&by_new).is_ok());
        // A broken document: the loaded keys stay in force.
        std::fs::write(&file, "{not json").expect("write");
        assert!(verifier.verify(&by_new).is_ok());
        // A document with an HMAC key: verified with the configured algorithm only.
        write(vec![jwk(&secret_b, Algorithm::HS256, "hmac")]);
        let hmac = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("hmac".to_owned());
            let claims = json!({"sub": "payroll", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60});
            jsonwebtoken::encode(&header, &claims, &secret_b).expect("sign")
        };
        assert!(verifier.verify(&hmac).is_err(), "ES256 configured");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn production_tokens_are_checked_against_the_public_key() {
        let config = AuthConfig {
            algorithm: JwtAlgorithm::ES256,
            public_key_pem: Some(ES256_PUBLIC.to_owned()),
            ..AuthConfig::default()
        };
        let verifier = JwtVerifier::from_config(&config).expect("valid key");
        let claims = json!({"sub": "payroll", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 60,
            "roles": ["partner_system"], "company_id": "acme"});
        let key =
            jsonwebtoken::EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).expect("private key");
        let signed = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &key,
        )
        .expect("sign");
        let principal = verifier.verify(&signed).expect("valid");
        assert!(principal.has(Role::PartnerSystem));
        // An HS256 token, even with the right claims, is refused by an ES256 verifier.
        assert_eq!(
            verifier.verify(&token(claims, SECRET)),
            Err(TokenError::BadSignature)
        );
        let missing = AuthConfig {
            algorithm: JwtAlgorithm::RS256,
            ..AuthConfig::default()
        };
        assert!(matches!(
            JwtVerifier::from_config(&missing),
            Err(AuthSetupError::MissingKey(_))
        ));
        let garbage = AuthConfig {
            public_key_pem: Some("not a key".to_owned()),
            ..config
        };
        assert!(matches!(
            JwtVerifier::from_config(&garbage),
            Err(AuthSetupError::Key { .. })
        ));
    }

    #[test]
    fn a_short_hs256_secret_is_a_configuration_error() {
        let config = AuthConfig {
            hs256_secret: Some(Secret::new("short")),
            ..AuthConfig::default()
        };
        assert!(matches!(
            JwtVerifier::from_config(&config),
            Err(AuthSetupError::Secret)
        ));
    }
}
