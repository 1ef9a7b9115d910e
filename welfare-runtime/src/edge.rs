//! The fields every service parses the same way at its edge: request ids, etags, page sizes,
//! and a stable fingerprint of a request's parts. Each returns the contract's field violation.

use welfare_core::listing::FieldViolation;

/// The longest request id (an idempotency key), in characters.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// A request id: 1 to [`MAX_REQUEST_ID_CHARS`] printable ASCII characters.
pub fn request_id(value: &str) -> Result<String, FieldViolation> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_REQUEST_ID_CHARS || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(FieldViolation::new(
            "request_id",
            format!("must be 1 to {MAX_REQUEST_ID_CHARS} printable ASCII characters"),
        ));
    }
    Ok(value.to_owned())
}

/// The etag of a version.
pub fn etag(version: i64) -> String {
    format!("v{version}")
}

/// The version an etag names: `None` for an empty etag (no check).
pub fn etag_version(value: &str, field: &str) -> Result<Option<i64>, FieldViolation> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .strip_prefix('v')
        .and_then(|digits| digits.parse::<i64>().ok())
        .filter(|version| *version > 0)
        .map(Some)
        .ok_or_else(|| FieldViolation::new(field, "is not an etag this service issued"))
}

/// A page size: 0 is `default`, above `max` is `max`, negative is refused.
pub fn page_size(value: i32, default: i64, max: i64) -> Result<i64, FieldViolation> {
    match i64::from(value) {
        0 => Ok(default),
        size if size < 0 => Err(FieldViolation::new("page_size", "must not be negative")),
        size => Ok(size.min(max)),
    }
}

/// FNV-1a over `parts` (each closed by a byte no UTF-8 text holds, so parts never run into
/// each other): a stable fingerprint of what defines a request, the same in every process and
/// release (the standard library's hasher is not).
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_printable_ascii() {
        assert!(request_id("retry-1").is_ok());
        assert!(request_id("").is_err());
        assert!(request_id("with space").is_err());
        assert!(request_id(&"x".repeat(MAX_REQUEST_ID_CHARS + 1)).is_err());
    }

    #[test]
    fn etags_name_versions_and_pages_are_bounded() {
        assert_eq!(etag_version(&etag(7), "etag"), Ok(Some(7)));
        assert_eq!(etag_version("", "etag"), Ok(None));
        assert!(etag_version("7", "etag").is_err());
        assert!(etag_version("v0", "etag").is_err());
        assert_eq!(page_size(0, 20, 100), Ok(20));
        assert_eq!(page_size(500, 20, 100), Ok(100));
        assert!(page_size(-1, 20, 100).is_err());
    }

    #[test]
    fn fingerprints_tell_parts_apart() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
    }
}
