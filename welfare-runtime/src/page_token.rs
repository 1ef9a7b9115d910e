//! Page tokens the services hand out: opaque to clients and signed by the server, so a forged
//! or altered token is refused rather than read, and bound to what the caller asked — each
//! service folds the request's filters and the caller's subject into the `bound` it seals a
//! token with, so a token only continues the listing, for the caller, it was issued for.
//!
//! A token is `<body, hex>.<HMAC-SHA256 of bound and body, first 16 bytes, hex>`. The key is
//! `server.page_token_secret` (hashed), the same on every replica; without it, a random key of
//! this process.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::Secret;

/// The longest token read, in characters.
pub const MAX_TOKEN_CHARS: usize = 1_024;
/// Bytes of the signature a token carries.
const SIGNATURE_BYTES: usize = 16;

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Signs this process's page tokens with `secret` (or a random key when `None`). The first
/// call decides: a process serves one deployment, whose services share the key.
pub fn use_key(secret: Option<&Secret>) {
    let _ = KEY.get_or_init(|| match secret {
        Some(secret) => Sha256::digest(secret.expose().as_bytes()).into(),
        None => random_key(),
    });
}

/// A key nobody else has: the random bits of a few version 7 UUIDs, with the time and the
/// process, hashed.
fn random_key() -> [u8; 32] {
    let mut hasher = Sha256::new();
    for _ in 0..4 {
        hasher.update(uuid::Uuid::now_v7().as_bytes());
    }
    hasher.update(std::process::id().to_be_bytes());
    Sha256::digest(hasher.finalize()).into()
}

fn key() -> &'static [u8; 32] {
    KEY.get_or_init(random_key)
}

fn signature(bound: u64, body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key()).expect("HMAC takes any key");
    mac.update(&bound.to_be_bytes());
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .take(SIGNATURE_BYTES)
        .copied()
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a page token is bound to: the caller (its token's subject; none when anonymous) and
/// the parts that define the listing (its name, its filters).
pub fn bound(principal: &welfare_core::auth::Principal, parts: &[&str]) -> u64 {
    let caller = principal
        .subject
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut all = vec![caller.as_str()];
    all.extend_from_slice(parts);
    crate::edge::fingerprint(&all)
}

/// A token carrying `body`, valid only with `bound`.
pub fn seal(bound: u64, body: &str) -> String {
    format!(
        "{}.{}",
        hex(body.as_bytes()),
        hex(&signature(bound, body.as_bytes()))
    )
}

/// What a caller is told of a token [`open`] refused, on the request's `page_token` field.
pub fn refused() -> welfare_core::listing::FieldViolation {
    welfare_core::listing::FieldViolation::new(
        "page_token",
        "is not a token this service issued for this listing and caller",
    )
}

/// The body of `token` if this server sealed it with `bound`: `Ok(None)` for the empty token
/// (the first page), `Err(())` for anything else — forged, altered, or issued for another
/// listing or caller.
#[allow(clippy::result_unit_err)]
pub fn open(token: &str, bound: u64) -> Result<Option<String>, ()> {
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() > MAX_TOKEN_CHARS {
        return Err(());
    }
    let (body, mac) = token.split_once('.').ok_or(())?;
    let (body, mac) = (unhex(body).ok_or(())?, unhex(mac).ok_or(())?);
    let expected = signature(bound, &body);
    // Compared in constant time: the signature is a secret until it is right.
    let same = mac.len() == expected.len()
        && mac
            .iter()
            .zip(&expected)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0;
    if !same {
        return Err(());
    }
    String::from_utf8(body).map(Some).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_with_its_bound_and_unaltered() {
        let bound = crate::edge::fingerprint(&["listings", "sub:anna", "sanitario"]);
        let token = seal(bound, "0190f0e8-0000-7000-8000-000000000001");
        assert_eq!(
            open(&token, bound),
            Ok(Some("0190f0e8-0000-7000-8000-000000000001".to_owned()))
        );
        let another_caller = crate::edge::fingerprint(&["listings", "sub:luca", "sanitario"]);
        assert_eq!(open(&token, another_caller), Err(()), "another caller's");
        // A body changed by hand, the old signature kept: refused.
        let (_, mac) = token.split_once('.').expect("two parts");
        let forged = format!("{}.{mac}", hex(b"0190f0e8-0000-7000-8000-000000000999"));
        assert_eq!(open(&forged, bound), Err(()), "forged");
        for bad in ["zz", "00.00", ".", "6f31", &"a".repeat(2_000)] {
            assert_eq!(open(bad, bound), Err(()), "{bad}");
        }
        assert_eq!(open("", bound), Ok(None));
    }
}
