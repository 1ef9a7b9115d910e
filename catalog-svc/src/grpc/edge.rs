//! The edge: ids, request ids, etags, pages, contacts and texts parsed once with each problem
//! naming its field, and the store's and the policy's refusals said on the wire.

use super::*;
use welfare_core::contact::{
    ContactError, EMAIL_MAX_CHARS, Email, PHONE_MAX_CHARS, Phone, URL_MAX_CHARS, Website,
};

/// The store's errors on the wire.
impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> ServiceError {
        match error {
            StoreError::VersionConflict { entity, id } => ServiceError::Aborted {
                reason: "ETAG_MISMATCH",
                message: format!("{entity} {id} changed since it was read: read it again"),
            },
            StoreError::TaxCodeTaken(code) => ServiceError::AlreadyExists {
                reason: "TAX_CODE_TAKEN",
                message: format!("a provider with tax code {code} is already registered"),
            },
            StoreError::RequestRecorded(id) => ServiceError::AlreadyExists {
                reason: "REQUEST_ID_REUSED",
                message: format!("request id {id} was already used"),
            },
            other @ (StoreError::Corrupt { .. }
            | StoreError::Database(_)
            | StoreError::Connect(_)
            | StoreError::Lease(_)) => ServiceError::Unexpected(other.to_string()),
        }
    }
}

pub(super) fn denied(denial: Denied) -> ServiceError {
    match denial {
        Denied::Unauthenticated => ServiceError::Unauthenticated {
            reason: "UNAUTHENTICATED",
            message: "a bearer token is required".to_owned(),
        },
        other => ServiceError::PermissionDenied {
            reason: other.code(),
        },
    }
}

pub(super) fn provider_not_found(id: &str) -> ServiceError {
    ServiceError::NotFound {
        resource: "provider",
        id: id.to_owned(),
    }
}

pub(super) fn listing_not_found(id: &str) -> ServiceError {
    ServiceError::NotFound {
        resource: "listing",
        id: id.to_owned(),
    }
}

pub(super) fn invalid_transition(message: String) -> ServiceError {
    ServiceError::FailedPrecondition {
        reason: "INVALID_TRANSITION",
        message,
        violations: Vec::new(),
    }
}

pub(super) fn provider_id(value: &str, field: &str) -> Result<ProviderId, FieldViolation> {
    ProviderId::parse(value.trim()).map_err(|e| FieldViolation::new(field, e))
}

pub(super) fn listing_id(value: &str, field: &str) -> Result<ListingId, FieldViolation> {
    ListingId::parse(value.trim()).map_err(|e| FieldViolation::new(field, e))
}

pub(super) use welfare_runtime::edge::{etag, etag_version, request_id};

pub(super) fn reason(value: &str) -> Result<String, FieldViolation> {
    convert::text(value, "reason", 1, REASON_MAX_CHARS)
}

pub(super) fn check_etag(
    expected: Option<i64>,
    version: i64,
    entity: &str,
    id: &str,
) -> Result<(), ServiceError> {
    match expected {
        Some(expected) if expected != version => Err(ServiceError::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!("{entity} {id} changed since it was read: read it again"),
        }),
        _ => Ok(()),
    }
}

/// A page size: 0 is the default, above the maximum is the maximum, negative is refused.
pub(super) fn page_size(value: i32) -> Result<i64, FieldViolation> {
    welfare_runtime::edge::page_size(value, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
}

/// The fingerprint of the parts that define a list request: a page token carries it, so a
/// token is only accepted with the filters (and the view) it was issued for.
pub(super) use welfare_runtime::edge::fingerprint;

/// An opaque page token carrying the last id returned, signed by the server for these
/// filters (`welfare_runtime::page_token`).
pub(super) fn page_token(filters: u64, last_id: &str) -> String {
    welfare_runtime::page_token::seal(filters, last_id)
}

/// The last id of a page token, if this server issued it for these filters.
pub(super) fn read_page_token(token: &str, filters: u64) -> Result<Option<String>, FieldViolation> {
    welfare_runtime::page_token::open(token, filters)
        .map_err(|()| welfare_runtime::page_token::refused())
}

pub(super) fn text_or_empty(
    value: &str,
    field: &str,
    max: usize,
) -> Result<String, FieldViolation> {
    convert::text(value, field, 0, max)
}

/// An optional contact detail: empty for none, else parsed by `welfare-core`.
fn contact<T>(
    value: &str,
    field: &str,
    max: usize,
    parse: fn(&str) -> Result<T, ContactError>,
) -> Result<Option<T>, FieldViolation> {
    let text = text_or_empty(value, field, max)?;
    if text.is_empty() {
        return Ok(None);
    }
    parse(&text)
        .map(Some)
        .map_err(|e| FieldViolation::new(field, e))
}

pub(super) fn email(value: &str, field: &str) -> Result<Option<Email>, FieldViolation> {
    contact(value, field, EMAIL_MAX_CHARS, Email::parse)
}

pub(super) fn phone(value: &str, field: &str) -> Result<Option<Phone>, FieldViolation> {
    contact(value, field, PHONE_MAX_CHARS, Phone::parse)
}

pub(super) fn website(value: &str, field: &str) -> Result<Option<Website>, FieldViolation> {
    contact(value, field, URL_MAX_CHARS, Website::parse)
}

/// The listing fields an update may name.
pub(super) const WRITABLE_FIELDS: [&str; 14] = [
    "title",
    "description",
    "category",
    "subcategory",
    "delivery",
    "service_area",
    "venue",
    "schedule",
    "booking_mode",
    "eligibility_rules",
    "pricing",
    "cancellation_policy",
    "languages",
    "accessibility",
];

/// Copies one writable field from `from` to `to`.
pub(super) fn copy_field(path: &str, from: &pb::Listing, to: &mut pb::Listing) {
    match path {
        "title" => to.title.clone_from(&from.title),
        "description" => to.description.clone_from(&from.description),
        "category" => to.category = from.category,
        "subcategory" => to.subcategory.clone_from(&from.subcategory),
        "delivery" => to.delivery.clone_from(&from.delivery),
        "service_area" => to.service_area.clone_from(&from.service_area),
        "venue" => to.venue.clone_from(&from.venue),
        "schedule" => to.schedule.clone_from(&from.schedule),
        "booking_mode" => to.booking_mode.clone_from(&from.booking_mode),
        "eligibility_rules" => to.eligibility_rules.clone_from(&from.eligibility_rules),
        "pricing" => to.pricing.clone_from(&from.pricing),
        "cancellation_policy" => to.cancellation_policy.clone_from(&from.cancellation_policy),
        "languages" => to.languages.clone_from(&from.languages),
        "accessibility" => to.accessibility.clone_from(&from.accessibility),
        _ => {}
    }
}

/// The fields of a provider its operators may change (`UpdateProvider`).
pub(super) const PROVIDER_WRITABLE_FIELDS: [&str; 8] = [
    "display_name",
    "kind",
    "tax_code",
    "runts_number",
    "comune_istat_code",
    "contact_email",
    "contact_phone",
    "website_url",
];

/// Copies one writable provider field, named as in `update_mask`.
pub(super) fn copy_provider_field(path: &str, from: &pb::Provider, to: &mut pb::Provider) {
    match path {
        "display_name" => to.display_name.clone_from(&from.display_name),
        "kind" => to.kind = from.kind,
        "tax_code" => to.tax_code.clone_from(&from.tax_code),
        "runts_number" => to.runts_number.clone_from(&from.runts_number),
        "comune_istat_code" => to.comune_istat_code.clone_from(&from.comune_istat_code),
        "contact_email" => to.contact_email.clone_from(&from.contact_email),
        "contact_phone" => to.contact_phone.clone_from(&from.contact_phone),
        "website_url" => to.website_url.clone_from(&from.website_url),
        _ => {}
    }
}

/// The paths of an update mask, each one of `writable` (every writable field when the mask is
/// empty); a path that is not, or more paths than there are fields, is a violation.
pub(super) fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    writable: &[&str],
    violations: &mut Violations,
) -> Vec<String> {
    let paths: Vec<String> = match mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
        _ => writable.iter().map(|f| (*f).to_owned()).collect(),
    };
    if paths.len() > writable.len() {
        violations.keep::<()>(Err(FieldViolation::new(
            "update_mask.paths",
            format!("at most {} paths", writable.len()),
        )));
    }
    for (index, path) in paths.iter().enumerate() {
        if !writable.contains(&path.as_str()) {
            violations.keep::<()>(Err(FieldViolation::new(
                format!("update_mask.paths[{index}]"),
                format!(
                    "{:?} is not a writable field (one of: {})",
                    path.chars().take(60).collect::<String>(),
                    writable.join(", ")
                ),
            )));
        }
    }
    paths
}

/// The full method path of a catalogue RPC, as recorded with request ids.
pub(super) fn method(name: &str) -> String {
    format!("/{SERVICE_NAME}/{name}")
}

/// Converts a profile and checks it, naming the field.
pub(super) fn profile(
    value: Option<&welfare_proto::common::Profile>,
) -> Result<welfare_core::eligibility::Profile, FieldViolation> {
    let profile = convert::profile(value, "profile")?;
    profile
        .validate()
        .map_err(|e| FieldViolation::new("profile", e))?;
    Ok(profile)
}

/// The id, request id, etag (and reason, when the step needs one) of a curation request.
pub(super) type StepFields<'a> = (&'a str, &'a str, &'a str, Option<&'a str>);

/// Checks the fields of a curation request, naming each bad one.
pub(super) fn step_fields(
    (id, request_id_value, etag_value, reason_value): StepFields<'_>,
) -> Result<(ListingId, String, Option<i64>), ServiceError> {
    let mut violations = Violations::default();
    let id = violations.keep(listing_id(id, "id"));
    let request_id = violations.keep(request_id(request_id_value));
    let expected = violations.keep(etag_version(etag_value, "etag"));
    if let Some(value) = reason_value {
        violations.keep(reason(value));
    }
    violations.finish_with(|| Some((id?, request_id?, expected?)))
}

/// Trims a page read with one extra row to `size` and returns the token of the next page
/// (empty when this is the last).
pub(super) fn next_token<T>(
    records: &mut Vec<T>,
    size: i64,
    filters: u64,
    id: impl Fn(&T) -> &str,
) -> String {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if records.len() > size {
        records.truncate(size);
        records
            .last()
            .map(|last| page_token(filters, id(last)))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_only_with_their_filters() {
        let filters = fingerprint(&["listings", "public", "", "", "sanitario"]);
        let token = page_token(filters, "0190f0e8-0000-7000-8000-000000000001");
        assert_eq!(
            read_page_token(&token, filters).expect("valid"),
            Some("0190f0e8-0000-7000-8000-000000000001".to_owned())
        );
        let other = fingerprint(&["listings", "public", "", "", "trasporto"]);
        assert!(read_page_token(&token, other).is_err());
        for bad in [
            "zz",
            "0",
            &token[..token.len() - 1],
            "00000000000000000000",
            // What the old unsigned tokens were: the filters and an id, hex-encoded.
            &format!("{filters:016x}{}", "6c2d31"),
        ] {
            assert!(read_page_token(bad, filters).is_err(), "{bad}");
        }
        assert_eq!(read_page_token("", filters).expect("empty"), None);
    }

    #[test]
    fn contacts_are_checked() {
        assert!(email("info@coop-arcobaleno.it", "e").is_ok());
        assert_eq!(email("", "e"), Ok(None));
        assert_eq!(
            email("info", "provider.contact_email").map_err(|v| v.field),
            Err("provider.contact_email".to_owned())
        );
        for bad in ["info", "@x.it", "a@b", "a b@c.it", "a@.it"] {
            assert!(email(bad, "e").is_err(), "{bad}");
        }
        assert!(phone("+39 0371 123456", "p").is_ok());
        assert!(phone("12", "p").is_err());
        assert!(phone("0371-123456", "p").is_err());
        assert!(website("https://www.comune.lodi.it/servizi", "w").is_ok());
        assert!(website("http://www.comune.lodi.it", "w").is_err());
        assert!(website("https://localhost", "w").is_err());
    }

    #[test]
    fn etags_name_versions() {
        assert_eq!(etag_version("", "etag").expect("empty"), None);
        assert_eq!(etag_version(&etag(7), "etag").expect("valid"), Some(7));
        for bad in ["7", "v", "v-1", "v0", "W/\"v1\""] {
            assert!(etag_version(bad, "etag").is_err(), "{bad}");
        }
    }
}
