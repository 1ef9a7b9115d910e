//! Verification keys that rotate without a restart: a JWKS document (RFC 7517) in a file
//! (`auth.jwks_file`, e.g. a mounted Kubernetes Secret the identity provider's keys are synced
//! into), re-read every `auth.jwks_refresh_seconds`. A token names its key by `kid`; during a
//! rotation the document holds the old key and the new one, so tokens signed with either are
//! accepted; once the old key leaves the document, its tokens are refused
//! (`TOKEN_UNKNOWN_KEY`). A document that cannot be read or has an unusable key is an error at
//! start; later, the keys already loaded stay in force and the problem is logged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

/// Why a JWKS document is unusable.
#[derive(Debug, thiserror::Error)]
#[error("auth.jwks_file {path}: {problem}")]
pub struct JwksError {
    pub path: PathBuf,
    pub problem: String,
}

/// The keys of a JWKS file, by `kid`, re-read when stale.
#[derive(Debug)]
pub struct KeyRing {
    path: PathBuf,
    refresh: Duration,
    state: RwLock<Loaded>,
}

struct Loaded {
    at: Instant,
    keys: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads the keys of a JWKS document: every key must have a `kid` and be usable.
fn read(path: &Path) -> Result<HashMap<String, DecodingKey>, JwksError> {
    let problem = |problem: String| JwksError {
        path: path.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    let set: JwkSet =
        serde_json::from_str(&text).map_err(|e| problem(format!("not a JWKS document: {e}")))?;
    if set.keys.is_empty() {
        return Err(problem("has no keys".to_owned()));
    }
    set.keys
        .iter()
        .enumerate()
        .map(|(n, jwk)| {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| problem(format!("keys[{n}] has no kid")))?;
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| problem(format!("keys[{n}] ({kid}) is unusable: {e}")))?;
            Ok((kid, key))
        })
        .collect()
}

impl KeyRing {
    /// Loads the document at `path`, to be re-read every `refresh`.
    pub fn load(path: &Path, refresh: Duration) -> Result<KeyRing, JwksError> {
        let keys = read(path)?;
        Ok(KeyRing {
            path: path.to_path_buf(),
            refresh,
            state: RwLock::new(Loaded {
                at: Instant::now(),
                keys,
            }),
        })
    }

    /// The key named `kid` (a token without one is accepted only while the document has a
    /// single key), from a document at most `refresh` old; `None` when the document has no
    /// such key.
    pub fn key(&self, kid: Option<&str>) -> Option<DecodingKey> {
        self.refresh_if_stale();
        let state = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match kid {
            Some(kid) => state.keys.get(kid).cloned(),
            None if state.keys.len() == 1 => state.keys.values().next().cloned(),
            None => None,
        }
    }

    fn refresh_if_stale(&self) {
        let stale = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .at
            .elapsed()
            >= self.refresh;
        if !stale {
            return;
        }
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.at.elapsed() < self.refresh {
            return; // Another call refreshed it meanwhile.
        }
        state.at = Instant::now();
        match read(&self.path) {
            Ok(keys) => {
                if keys.len() != state.keys.len()
                    || keys.keys().any(|k| !state.keys.contains_key(k))
                {
                    tracing::info!(kids = ?keys.keys().collect::<Vec<_>>(), "verification keys changed");
                }
                state.keys = keys;
            }
            Err(error) => {
                tracing::error!(%error, "the verification keys could not be re-read; the loaded ones stay in force");
            }
        }
    }
}
