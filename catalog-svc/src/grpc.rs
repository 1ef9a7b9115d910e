//! `welfare.catalog.v1.CatalogService` over a [`CatalogStore`]: every request is converted and
//! checked at the edge (each bad field named), authorised by `welfare-core`'s policy, decided by
//! `welfare-core` (curation workflow, provider vetting, eligibility, quotes) and written by the
//! store in one transaction with its outbox row and its recorded answer.
//!
//! Mutations are idempotent by `request_id` per caller: a retry with the same bytes gets the
//! first answer, the same id with other bytes is `ALREADY_EXISTS` (`REQUEST_ID_REUSED`). Updates
//! carry an etag: a stale one is `ABORTED` (`ETAG_MISMATCH`); without one, a concurrent change
//! makes the service re-read and re-apply. Callers who may not see a resource are told it does
//! not exist, so drafts and pending providers never leak.

use std::pin::Pin;
use std::sync::Arc;

use prost::Message;
use tonic::{Request, Response, Status};
use welfare_core::auth::{Action, Denied, Principal, Resource, authorize};
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{
    CurationAction, CurationError, FieldViolation, ListingStatus, REASON_MAX_CHARS, is_stale,
};
use welfare_core::provider::{ProviderAction, ProviderStatus, TaxId};
use welfare_core::territory::Territory;
use welfare_core::time::{SECONDS_PER_DAY, Timestamp};
use welfare_core::{Money, pricing};
use welfare_proto::catalog as pb;
use welfare_proto::catalog::catalog_service_server::CatalogService;
use welfare_proto::convert::{self, child};
use welfare_runtime::ServiceError;
use welfare_runtime::auth::principal;
use welfare_runtime::clock::Clock;
use welfare_runtime::error::Violations;

use crate::hsds;
use crate::search::SearchIndex;
use welfare_runtime::uuid::new_uuid;

mod listing_cache;
mod search_rpc;
use crate::store::{
    CatalogStore, Change, ListingQuery, ListingRecord, OutboxEvent, ProviderQuery, ProviderRecord,
    RecordedRequest, StoreError, Topic, Visibility,
};

/// The gRPC service name.
pub const SERVICE_NAME: &str = "welfare.catalog.v1.CatalogService";
/// The default and largest page sizes of the list methods.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
/// The longest request id.
pub const MAX_REQUEST_ID_CHARS: usize = 64;
/// Display names of providers.
pub const NAME_MIN_CHARS: usize = 3;
pub const NAME_MAX_CHARS: usize = 200;
/// Contact fields.
pub const EMAIL_MAX_CHARS: usize = 254;
pub const URL_MAX_CHARS: usize = 2_000;
/// How often a change that lost a race without an etag is re-applied before giving up.
const CONFLICT_RETRIES: usize = 3;

/// The methods anyone may call without a token.
pub fn public_methods() -> Vec<String> {
    [
        "GetProvider",
        "ListProviders",
        "GetListing",
        "ListListings",
        "SearchListings",
        "CheckEligibility",
        "QuoteListing",
        "ListCategories",
        "ListMunicipalities",
        "ExportCatalog",
    ]
    .iter()
    .map(|method| format!("/{SERVICE_NAME}/{method}"))
    .collect()
}

/// The catalogue service.
#[derive(Clone)]
pub struct CatalogApi<S, I> {
    store: S,
    index: I,
    territory: Arc<Territory>,
    clock: Clock,
    /// The listings searches read, decoded, for the next searches: used as they are when the
    /// store has counted no change since they were checked, else checked against its version.
    listings: Arc<listing_cache::ListingCache>,
}

impl<S: std::fmt::Debug, I> std::fmt::Debug for CatalogApi<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogApi")
            .field("store", &self.store)
            .field("territory", &self.territory.name())
            .finish_non_exhaustive()
    }
}

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
            | StoreError::Connect(_)) => ServiceError::Unexpected(other.to_string()),
        }
    }
}

fn denied(denial: Denied) -> ServiceError {
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

fn provider_not_found(id: &str) -> ServiceError {
    ServiceError::NotFound {
        resource: "provider",
        id: id.to_owned(),
    }
}

fn listing_not_found(id: &str) -> ServiceError {
    ServiceError::NotFound {
        resource: "listing",
        id: id.to_owned(),
    }
}

fn invalid_transition(message: String) -> ServiceError {
    ServiceError::FailedPrecondition {
        reason: "INVALID_TRANSITION",
        message,
        violations: Vec::new(),
    }
}

fn provider_id(value: &str, field: &str) -> Result<ProviderId, FieldViolation> {
    ProviderId::parse(value.trim()).map_err(|e| FieldViolation::new(field, e))
}

fn listing_id(value: &str, field: &str) -> Result<ListingId, FieldViolation> {
    ListingId::parse(value.trim()).map_err(|e| FieldViolation::new(field, e))
}

fn request_id(value: &str) -> Result<String, FieldViolation> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_REQUEST_ID_CHARS || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(FieldViolation::new(
            "request_id",
            format!("must be 1 to {MAX_REQUEST_ID_CHARS} printable ASCII characters"),
        ));
    }
    Ok(value.to_owned())
}

fn reason(value: &str) -> Result<String, FieldViolation> {
    convert::text(value, "reason", 1, REASON_MAX_CHARS)
}

/// The etag of a version.
fn etag(version: i64) -> String {
    format!("v{version}")
}

/// The version an etag names: `None` for an empty etag (no check).
fn etag_version(value: &str, field: &str) -> Result<Option<i64>, FieldViolation> {
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

fn check_etag(
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
fn page_size(value: i32) -> Result<i64, FieldViolation> {
    match i64::from(value) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(FieldViolation::new("page_size", "must not be negative")),
        size => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

/// FNV-1a over the parts that define a list request: a page token carries it, so a token is only
/// accepted with the filters (and the view) it was issued for.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// An opaque page token: the filters' fingerprint and the last id returned, hex-encoded.
fn page_token(filters: u64, last_id: &str) -> String {
    format!(
        "{filters:016x}{}",
        last_id
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The last id of a page token, if it was issued for these filters.
fn read_page_token(token: &str, filters: u64) -> Result<Option<String>, FieldViolation> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        FieldViolation::new(
            "page_token",
            "is not a token from this listing's previous page",
        )
    };
    if token.len() > 512 || !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(invalid());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    let (head, id) = bytes.split_at_checked(8).ok_or_else(invalid)?;
    let head: [u8; 8] = head.try_into().map_err(|_| invalid())?;
    if u64::from_be_bytes(head) != filters || id.is_empty() {
        return Err(invalid());
    }
    String::from_utf8(id.to_vec())
        .map(Some)
        .map_err(|_| invalid())
}

fn text_or_empty(value: &str, field: &str, max: usize) -> Result<String, FieldViolation> {
    convert::text(value, field, 0, max)
}

fn email(value: &str, field: &str) -> Result<String, FieldViolation> {
    let value = text_or_empty(value, field, EMAIL_MAX_CHARS)?;
    if value.is_empty() {
        return Ok(value);
    }
    let valid = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.contains('.')
            && !domain.contains('@')
    }) && !value.chars().any(char::is_whitespace);
    if valid {
        Ok(value)
    } else {
        Err(FieldViolation::new(field, "is not an e-mail address"))
    }
}

fn phone(value: &str, field: &str) -> Result<String, FieldViolation> {
    let value = text_or_empty(value, field, 30)?;
    if value.is_empty() {
        return Ok(value);
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (c == '+' && i == 0));
    if allowed && (6..=15).contains(&digits) {
        Ok(value)
    } else {
        Err(FieldViolation::new(
            field,
            "must be 6 to 15 digits, with spaces and a leading + allowed",
        ))
    }
}

fn website(value: &str, field: &str) -> Result<String, FieldViolation> {
    let value = text_or_empty(value, field, URL_MAX_CHARS)?;
    if value.is_empty() {
        return Ok(value);
    }
    let host = value
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if host.contains('.') && !value.chars().any(char::is_whitespace) => Ok(value),
        _ => Err(FieldViolation::new(field, "must be an https:// address")),
    }
}

/// The listing fields an update may name.
const WRITABLE_FIELDS: [&str; 14] = [
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
fn copy_field(path: &str, from: &pb::Listing, to: &mut pb::Listing) {
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

/// The full method path of a catalogue RPC, as recorded with request ids.
fn method(name: &str) -> String {
    format!("/{SERVICE_NAME}/{name}")
}

/// A change a curation RPC asks for, and the outbox kind it produces.
struct Curation {
    action: CurationAction,
    rpc: &'static str,
    authorize_as: Action,
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    pub fn new(store: S, index: I, territory: Arc<Territory>, clock: Clock) -> CatalogApi<S, I> {
        CatalogApi {
            store,
            index,
            territory,
            clock,
            listings: Arc::default(),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The service as the runtime serves it: its routes (requests up to `max_message_bytes`),
    /// the methods open to anonymous callers, and its name for health and reflection.
    pub fn into_services(self, max_message_bytes: usize) -> welfare_runtime::ServiceSet {
        welfare_runtime::ServiceSet {
            routes: tonic::service::Routes::new(
                pb::catalog_service_server::CatalogServiceServer::new(self)
                    .max_decoding_message_size(max_message_bytes),
            ),
            public_methods: public_methods(),
            service_names: vec![SERVICE_NAME.to_owned()],
        }
    }

    pub fn territory(&self) -> &Territory {
        &self.territory
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The oldest verification still fresh at `now`.
    fn fresh_since(&self, now: Timestamp) -> Timestamp {
        now.plus_seconds(-i64::from(self.territory.freshness_window_days()) * SECONDS_PER_DAY)
    }

    // ---- idempotency ----------------------------------------------------------------------

    /// The caller's identity for request ids: mutations need one.
    fn subject(principal: &Principal) -> Result<String, ServiceError> {
        principal
            .subject
            .as_ref()
            .map(|subject| subject.as_str().to_owned())
            .ok_or_else(|| denied(Denied::Unauthenticated))
    }

    /// The namespace of a caller's request ids: its subject and the provider and company it
    /// acts for (none of which may hold a `/`), so the same person bound to another tenant
    /// never reaches the first tenant's answers. Only ever consulted after the call is
    /// authorised.
    fn scope(principal: &Principal) -> Result<String, ServiceError> {
        let subject = Self::subject(principal)?;
        let provider = principal.provider_id.as_ref().map_or("", |p| p.as_str());
        let company = principal.company_id.as_ref().map_or("", |c| c.as_str());
        Ok(format!("{subject}/{provider}/{company}"))
    }

    /// The first answer to this request, if it was already answered; `REQUEST_ID_REUSED` if
    /// the id was used for a different request.
    async fn replay<R: Message + Default>(
        &self,
        subject: &str,
        request_id: &str,
        method: &str,
        request: &[u8],
    ) -> Result<Option<R>, ServiceError> {
        let Some(recorded) = self.store.recorded_request(subject, request_id).await? else {
            return Ok(None);
        };
        if recorded.method != method || recorded.request != request {
            return Err(ServiceError::AlreadyExists {
                reason: "REQUEST_ID_REUSED",
                message: format!("request id {request_id} was already used for another request"),
            });
        }
        R::decode(recorded.response.as_slice())
            .map(Some)
            .map_err(|e| ServiceError::Unexpected(format!("recorded response: {e}")))
    }

    /// After the store found the request id recorded by a concurrent call: its answer.
    async fn replay_after_race<R: Message + Default>(
        &self,
        subject: &str,
        request_id: &str,
        method: &str,
        request: &[u8],
    ) -> Result<R, ServiceError> {
        self.replay(subject, request_id, method, request)
            .await?
            .ok_or_else(|| ServiceError::Unexpected("recorded request vanished".to_owned()))
    }

    fn change(
        subject: &str,
        request_id: &str,
        method: &str,
        request: Vec<u8>,
        response: &impl Message,
        now: Timestamp,
        event: OutboxEvent,
    ) -> Change {
        Change {
            request: RecordedRequest {
                principal: subject.to_owned(),
                request_id: request_id.to_owned(),
                method: method.to_owned(),
                request,
                response: response.encode_to_vec(),
                created_at: now,
            },
            event,
        }
    }

    // ---- providers ------------------------------------------------------------------------

    fn provider_to_proto(record: &ProviderRecord) -> pb::Provider {
        let (kind, runts_number, comune_istat_code) = convert::provider_kind_to_proto(&record.kind);
        let state = match record.status {
            ProviderStatus::Pending => pb::provider::State::Pending,
            ProviderStatus::Approved => pb::provider::State::Approved,
            ProviderStatus::Suspended => pb::provider::State::Suspended,
        };
        pb::Provider {
            id: record.id.to_string(),
            display_name: record.display_name.clone(),
            kind,
            tax_code: record.tax_id.as_str().to_owned(),
            runts_number,
            comune_istat_code,
            contact_email: record.contact_email.clone(),
            contact_phone: record.contact_phone.clone(),
            website_url: record.website_url.clone(),
            state: state.into(),
            state_reason: record.state_reason.clone(),
            create_time: Some(convert::timestamp_to_proto(record.created_at)),
            update_time: Some(convert::timestamp_to_proto(record.updated_at)),
            etag: etag(record.version),
        }
    }

    fn provider_event(record: &ProviderRecord, kind: &str) -> OutboxEvent {
        OutboxEvent {
            topic: Topic::Provider,
            entity_id: record.id.to_string(),
            kind: format!("provider.{kind}"),
            payload: serde_json::json!({
                "id": record.id.as_str(),
                "status": record.status.code(),
                "version": record.version,
            })
            .to_string(),
        }
    }

    /// A provider the caller may see, or `PROVIDER_NOT_FOUND`.
    async fn visible_provider(
        &self,
        principal: &Principal,
        id: &ProviderId,
    ) -> Result<ProviderRecord, ServiceError> {
        let record = self
            .store
            .provider(id)
            .await?
            .ok_or_else(|| provider_not_found(id.as_str()))?;
        let resource = Resource::Provider {
            id: &record.id,
            approved: record.status == ProviderStatus::Approved,
        };
        authorize(principal, Action::ReadProvider, resource)
            .map_err(|_| provider_not_found(id.as_str()))?;
        Ok(record)
    }

    /// Applies a vetting step to a provider, re-reading on a lost race when no etag was given.
    #[allow(clippy::too_many_arguments)]
    async fn vet_provider(
        &self,
        principal: &Principal,
        rpc: &str,
        request_bytes: Vec<u8>,
        id: &ProviderId,
        request_id: &str,
        expected: Option<i64>,
        action: ProviderAction,
        state_reason: &str,
    ) -> Result<pb::Provider, ServiceError> {
        let scope = Self::scope(principal)?;
        let method = method(rpc);
        for attempt in 1..=CONFLICT_RETRIES {
            let mut record = self.visible_provider(principal, id).await?;
            let resource = Resource::Provider {
                id: &record.id,
                approved: record.status == ProviderStatus::Approved,
            };
            let wanted = match action {
                ProviderAction::Approve => Action::ApproveProvider,
                ProviderAction::Suspend => Action::SuspendProvider,
            };
            authorize(principal, wanted, resource).map_err(denied)?;
            // Authorised first, then replayed: no answer reaches a caller who may not act.
            if let Some(answer) = self
                .replay(&scope, request_id, &method, &request_bytes)
                .await?
            {
                return Ok(answer);
            }
            check_etag(expected, record.version, "provider", id.as_str())?;
            record.status = record
                .status
                .apply(action)
                .map_err(|e| invalid_transition(e.to_string()))?;
            record.state_reason = state_reason.to_owned();
            let now = self.now();
            record.version += 1;
            record.updated_at = now;
            let response = Self::provider_to_proto(&record);
            let kind = match action {
                ProviderAction::Approve => "approved",
                ProviderAction::Suspend => "suspended",
            };
            let change = Self::change(
                &scope,
                request_id,
                &method,
                request_bytes.clone(),
                &response,
                now,
                Self::provider_event(&record, kind),
            );
            match self.store.update_provider(&record, &change).await {
                Ok(()) => return Ok(response),
                Err(StoreError::VersionConflict { .. })
                    if expected.is_none() && attempt < CONFLICT_RETRIES => {}
                Err(StoreError::RequestRecorded(_)) => {
                    return self
                        .replay_after_race(&scope, request_id, &method, &request_bytes)
                        .await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::VersionConflict {
            entity: "provider",
            id: id.to_string(),
        }
        .into())
    }

    // ---- listings -------------------------------------------------------------------------

    fn listing_to_proto(&self, record: &ListingRecord, now: Timestamp) -> pb::Listing {
        let listing = &record.listing;
        let mut out = pb::Listing::default();
        convert::listing_content_to_proto(&listing.content, &mut out);
        let (state, state_reason) = convert::listing_status_to_proto(&listing.status);
        out.id = listing.id.to_string();
        out.provider_id = listing.provider_id.to_string();
        out.state = state;
        out.state_reason = state_reason;
        out.verify_time = listing.verified_at.map(convert::timestamp_to_proto);
        out.stale = listing.status == ListingStatus::Published
            && is_stale(listing.verified_at, now, &self.territory);
        out.create_time = Some(convert::timestamp_to_proto(record.created_at));
        out.update_time = Some(convert::timestamp_to_proto(record.updated_at));
        out.etag = etag(record.version);
        out
    }

    fn listing_event(record: &ListingRecord, kind: &str) -> OutboxEvent {
        let listing = &record.listing;
        OutboxEvent {
            topic: Topic::Listing,
            entity_id: listing.id.to_string(),
            kind: format!("listing.{kind}"),
            payload: serde_json::json!({
                "id": listing.id.as_str(),
                "provider_id": listing.provider_id.as_str(),
                "status": listing.status.code(),
                "verified_at": listing.verified_at.map(Timestamp::unix_seconds),
                "version": record.version,
            })
            .to_string(),
        }
    }

    /// A listing the caller may see (public, or theirs, or a curator's view) with whether it
    /// is public, or `LISTING_NOT_FOUND`.
    async fn visible_listing(
        &self,
        principal: &Principal,
        id: &ListingId,
        now: Timestamp,
    ) -> Result<(ListingRecord, bool), ServiceError> {
        let (record, provider_status) = self
            .store
            .listing(id)
            .await?
            .ok_or_else(|| listing_not_found(id.as_str()))?;
        let public = record
            .listing
            .is_public(provider_status, now, &self.territory);
        let resource = Resource::Listing {
            provider_id: &record.listing.provider_id,
            public,
        };
        authorize(principal, Action::ReadListing, resource)
            .map_err(|_| listing_not_found(id.as_str()))?;
        Ok((record, public))
    }

    /// Applies `edit` to a listing: replay, visibility, authorization, etag, write with its
    /// outbox row and recorded answer; re-read and re-apply on a lost race without an etag.
    #[allow(clippy::too_many_arguments)]
    async fn change_listing<F>(
        &self,
        principal: &Principal,
        rpc: &str,
        request_bytes: Vec<u8>,
        id: &ListingId,
        request_id: &str,
        expected: Option<i64>,
        action: Action,
        edit: F,
    ) -> Result<pb::Listing, ServiceError>
    where
        F: Fn(&mut ListingRecord, Timestamp) -> Result<&'static str, ServiceError>,
    {
        let scope = Self::scope(principal)?;
        let method = method(rpc);
        for attempt in 1..=CONFLICT_RETRIES {
            let now = self.now();
            let (mut record, public) = self.visible_listing(principal, id, now).await?;
            let resource = Resource::Listing {
                provider_id: &record.listing.provider_id,
                public,
            };
            authorize(principal, action, resource).map_err(denied)?;
            // Authorised first, then replayed: no answer reaches a caller who may not act.
            if let Some(answer) = self
                .replay(&scope, request_id, &method, &request_bytes)
                .await?
            {
                return Ok(answer);
            }
            check_etag(expected, record.version, "listing", id.as_str())?;
            let kind = edit(&mut record, now)?;
            record.version += 1;
            record.updated_at = now;
            let response = self.listing_to_proto(&record, now);
            let change = Self::change(
                &scope,
                request_id,
                &method,
                request_bytes.clone(),
                &response,
                now,
                Self::listing_event(&record, kind),
            );
            match self.store.update_listing(&record, &change).await {
                Ok(()) => return Ok(response),
                Err(StoreError::VersionConflict { .. })
                    if expected.is_none() && attempt < CONFLICT_RETRIES => {}
                Err(StoreError::RequestRecorded(_)) => {
                    return self
                        .replay_after_race(&scope, request_id, &method, &request_bytes)
                        .await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::VersionConflict {
            entity: "listing",
            id: id.to_string(),
        }
        .into())
    }

    /// A curation step on a listing.
    /// A curation RPC: its id, request id, etag (and reason) checked, then the step applied.
    async fn curate(
        &self,
        principal: &Principal,
        curation: Curation,
        request: &impl Message,
        fields: StepFields<'_>,
    ) -> Result<Response<pb::Listing>, Status> {
        let (id, request_id, expected) = step_fields(fields)?;
        let request_bytes = request.encode_to_vec();
        let id = &id;
        let request_id = request_id.as_str();
        let Curation {
            action,
            rpc,
            authorize_as,
        } = curation;
        self.change_listing(
            principal,
            rpc,
            request_bytes,
            id,
            request_id,
            expected,
            authorize_as,
            |record, now| {
                record.listing.curate(&action, now).map_err(|e| match e {
                    CurationError::Reason => ServiceError::invalid("reason", e),
                    CurationError::InvalidTransition { .. } => invalid_transition(e.to_string()),
                })?;
                Ok(match action {
                    CurationAction::Submit => "submitted",
                    CurationAction::Approve => "published",
                    CurationAction::Reject { .. } => "rejected",
                    CurationAction::Suspend { .. } => "suspended",
                    CurationAction::Withdraw => "withdrawn",
                    CurationAction::Verify => "verified",
                })
            },
        )
        .await
        .map(Response::new)
        .map_err(Status::from)
    }

    /// Converts and validates a listing's content as a provider wrote it.
    fn content(
        &self,
        listing: &pb::Listing,
        violations: &mut Violations,
    ) -> Option<welfare_core::listing::ListingContent> {
        match convert::listing_content(listing, "listing") {
            Ok(content) => match content.validate(&self.territory) {
                Ok(()) => Some(content),
                Err(found) => {
                    violations.extend(
                        found
                            .into_iter()
                            .map(|v| FieldViolation::new(child("listing", &v.field), v.problem))
                            .collect(),
                    );
                    None
                }
            },
            Err(found) => {
                violations.extend(found);
                None
            }
        }
    }

    /// The caller's view of `ListListings`: which listings, and the filters' fingerprint.
    fn listing_view(
        &self,
        principal: &Principal,
        request: &pb::ListListingsRequest,
        provider: Option<&ProviderId>,
        status: Option<&'static str>,
        now: Timestamp,
    ) -> Result<Visibility, ServiceError> {
        let curator_like = principal.has(welfare_core::auth::Role::Curator)
            || principal.has(welfare_core::auth::Role::Operator);
        let fresh_since = self.fresh_since(now);
        if request.stale_only {
            if !curator_like {
                return Err(denied(Denied::RoleRequired));
            }
            return Ok(Visibility::Stale { fresh_since });
        }
        let owner = provider.is_some_and(|provider| {
            principal.provider_id.as_ref() == Some(provider)
                && authorize(
                    principal,
                    Action::ReadListing,
                    Resource::Listing {
                        provider_id: provider,
                        public: false,
                    },
                )
                .is_ok()
        });
        if curator_like || owner {
            return Ok(Visibility::All);
        }
        match status {
            None | Some("published") => Ok(Visibility::Public { fresh_since }),
            Some(_) => Err(denied(if principal.subject.is_none() {
                Denied::Unauthenticated
            } else {
                Denied::NotOwner
            })),
        }
    }
}

type ExportStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ExportCatalogChunk, Status>> + Send>>;

#[tonic::async_trait]
impl<S: CatalogStore, I: SearchIndex> CatalogService for CatalogApi<S, I> {
    async fn register_provider(
        &self,
        request: Request<pb::RegisterProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let request_bytes = message.encode_to_vec();
        let mut violations = Violations::default();
        let request_id = violations.keep(request_id(&message.request_id));
        let empty = pb::Provider::default();
        let provider = message.provider.as_ref().unwrap_or(&empty);
        if message.provider.is_none() {
            violations.keep::<()>(Err(FieldViolation::new("provider", "is required")));
        }
        let name = violations.keep(convert::text(
            &provider.display_name,
            "provider.display_name",
            NAME_MIN_CHARS,
            NAME_MAX_CHARS,
        ));
        let kind = violations.keep(convert::provider_kind(
            provider.kind,
            &provider.runts_number,
            &provider.comune_istat_code,
            "provider",
        ));
        if let Some(welfare_core::provider::ProviderKind::Comune { istat_code }) = &kind
            && !self.territory.contains(istat_code)
        {
            violations.keep::<()>(Err(FieldViolation::new(
                "provider.comune_istat_code",
                format!(
                    "comune {istat_code} is not in the {}",
                    self.territory.name()
                ),
            )));
        }
        let tax_id = violations.keep(
            TaxId::parse(&provider.tax_code)
                .map_err(|e| FieldViolation::new("provider.tax_code", e)),
        );
        let contact_email =
            violations.keep(email(&provider.contact_email, "provider.contact_email"));
        let contact_phone =
            violations.keep(phone(&provider.contact_phone, "provider.contact_phone"));
        let website_url = violations.keep(website(&provider.website_url, "provider.website_url"));
        let (request_id, display_name, kind, tax_id, contact_email, contact_phone, website_url) =
            violations.finish_with(|| {
                Some((
                    request_id?,
                    name?,
                    kind?,
                    tax_id?,
                    contact_email?,
                    contact_phone?,
                    website_url?,
                ))
            })?;
        let subject = Self::subject(&principal)?;
        let scope = Self::scope(&principal)?;
        authorize(&principal, Action::RegisterProvider, Resource::Catalog).map_err(denied)?;
        let method = method("RegisterProvider");
        if let Some(answer) = self
            .replay(&scope, &request_id, &method, &request_bytes)
            .await?
        {
            return Ok(Response::new(answer));
        }
        let now = self.now();
        let record = ProviderRecord {
            id: ProviderId::parse(&new_uuid())
                .map_err(|e| ServiceError::Unexpected(e.to_string()))?,
            display_name,
            kind,
            tax_id,
            contact_email,
            contact_phone,
            website_url,
            status: ProviderStatus::Pending,
            state_reason: String::new(),
            registered_by: subject.clone(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let response = Self::provider_to_proto(&record);
        let change = Self::change(
            &scope,
            &request_id,
            &method,
            request_bytes.clone(),
            &response,
            now,
            Self::provider_event(&record, "registered"),
        );
        match self.store.create_provider(&record, &change).await {
            Ok(()) => Ok(Response::new(response)),
            Err(StoreError::RequestRecorded(_)) => Ok(Response::new(
                self.replay_after_race(&scope, &request_id, &method, &request_bytes)
                    .await?,
            )),
            Err(error) => Err(ServiceError::from(error).into()),
        }
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let principal = principal(&request);
        let id = provider_id(&request.get_ref().id, "id")
            .map_err(|v| ServiceError::InvalidArgument(vec![v]))?;
        let record = self.visible_provider(&principal, &id).await?;
        Ok(Response::new(Self::provider_to_proto(&record)))
    }

    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let size = violations.keep(page_size(message.page_size));
        let status = violations.keep(convert::provider_status_filter(message.state, "state"));
        let (size, status) = violations.finish_with(|| Some((size?, status?)))?;
        let oversight = principal.has(welfare_core::auth::Role::Curator)
            || principal.has(welfare_core::auth::Role::Operator);
        let status = match (oversight, status) {
            (true, status) => status,
            (false, None | Some(ProviderStatus::Approved)) => Some(ProviderStatus::Approved),
            (false, Some(_)) => {
                return Err(denied(if principal.subject.is_none() {
                    Denied::Unauthenticated
                } else {
                    Denied::RoleRequired
                })
                .into());
            }
        };
        let filters = fingerprint(&["providers", status.map_or("", ProviderStatus::code)]);
        let after_id = read_page_token(&message.page_token, filters)
            .map_err(|v| ServiceError::InvalidArgument(vec![v]))?;
        let mut records = self
            .store
            .providers(&ProviderQuery {
                status,
                after_id,
                limit: size + 1,
            })
            .await
            .map_err(ServiceError::from)?;
        let next_page_token = next_token(&mut records, size, filters, |r| r.id.as_str());
        Ok(Response::new(pb::ListProvidersResponse {
            providers: records.iter().map(Self::provider_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn approve_provider(
        &self,
        request: Request<pb::ApproveProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let id = violations.keep(provider_id(&message.id, "id"));
        let request_id = violations.keep(request_id(&message.request_id));
        let expected = violations.keep(etag_version(&message.etag, "etag"));
        let (id, request_id, expected) =
            violations.finish_with(|| Some((id?, request_id?, expected?)))?;
        let provider = self
            .vet_provider(
                &principal,
                "ApproveProvider",
                message.encode_to_vec(),
                &id,
                &request_id,
                expected,
                ProviderAction::Approve,
                "",
            )
            .await?;
        Ok(Response::new(provider))
    }

    async fn suspend_provider(
        &self,
        request: Request<pb::SuspendProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let id = violations.keep(provider_id(&message.id, "id"));
        let why = violations.keep(reason(&message.reason));
        let request_id = violations.keep(request_id(&message.request_id));
        let expected = violations.keep(etag_version(&message.etag, "etag"));
        let (id, why, request_id, expected) =
            violations.finish_with(|| Some((id?, why?, request_id?, expected?)))?;
        let provider = self
            .vet_provider(
                &principal,
                "SuspendProvider",
                message.encode_to_vec(),
                &id,
                &request_id,
                expected,
                ProviderAction::Suspend,
                &why,
            )
            .await?;
        Ok(Response::new(provider))
    }

    async fn create_listing(
        &self,
        request: Request<pb::CreateListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let request_bytes = message.encode_to_vec();
        let mut violations = Violations::default();
        let provider = violations.keep(provider_id(&message.provider_id, "provider_id"));
        let request_id = violations.keep(request_id(&message.request_id));
        let content = match &message.listing {
            Some(listing) => self.content(listing, &mut violations),
            None => {
                violations.keep::<()>(Err(FieldViolation::new("listing", "is required")));
                None
            }
        };
        let (provider, request_id, content) =
            violations.finish_with(|| Some((provider?, request_id?, content?)))?;
        let scope = Self::scope(&principal)?;
        let method = method("CreateListing");
        let owner = self.visible_provider(&principal, &provider).await?;
        authorize(
            &principal,
            Action::CreateListing,
            Resource::Provider {
                id: &owner.id,
                approved: owner.status == ProviderStatus::Approved,
            },
        )
        .map_err(denied)?;
        // Authorised first, then replayed: no answer reaches a caller who may not act.
        if let Some(answer) = self
            .replay(&scope, &request_id, &method, &request_bytes)
            .await?
        {
            return Ok(Response::new(answer));
        }
        let now = self.now();
        let record = ListingRecord {
            listing: welfare_core::listing::Listing {
                id: ListingId::parse(&new_uuid())
                    .map_err(|e| ServiceError::Unexpected(e.to_string()))?,
                provider_id: owner.id,
                content,
                status: ListingStatus::Draft,
                verified_at: None,
            },
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let response = self.listing_to_proto(&record, now);
        let change = Self::change(
            &scope,
            &request_id,
            &method,
            request_bytes.clone(),
            &response,
            now,
            Self::listing_event(&record, "created"),
        );
        match self.store.create_listing(&record, &change).await {
            Ok(()) => Ok(Response::new(response)),
            Err(StoreError::RequestRecorded(_)) => Ok(Response::new(
                self.replay_after_race(&scope, &request_id, &method, &request_bytes)
                    .await?,
            )),
            Err(error) => Err(ServiceError::from(error).into()),
        }
    }

    async fn update_listing(
        &self,
        request: Request<pb::UpdateListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let empty = pb::Listing::default();
        let listing = message.listing.as_ref().unwrap_or(&empty);
        if message.listing.is_none() {
            violations.keep::<()>(Err(FieldViolation::new("listing", "is required")));
        }
        let id = violations.keep(listing_id(&listing.id, "listing.id"));
        let expected = violations.keep(etag_version(&listing.etag, "listing.etag"));
        let request_id = violations.keep(request_id(&message.request_id));
        let paths: Vec<String> = match &message.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
            _ => WRITABLE_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
        };
        if paths.len() > WRITABLE_FIELDS.len() {
            violations.keep::<()>(Err(FieldViolation::new(
                "update_mask.paths",
                format!("at most {} paths", WRITABLE_FIELDS.len()),
            )));
        }
        for (index, path) in paths.iter().enumerate() {
            if !WRITABLE_FIELDS.contains(&path.as_str()) {
                violations.keep::<()>(Err(FieldViolation::new(
                    format!("update_mask.paths[{index}]"),
                    format!(
                        "{:?} is not a writable field (one of: {})",
                        path.chars().take(60).collect::<String>(),
                        WRITABLE_FIELDS.join(", ")
                    ),
                )));
            }
        }
        let (id, expected, request_id) =
            violations.finish_with(|| Some((id?, expected?, request_id?)))?;
        let updated = self
            .change_listing(
                &principal,
                "UpdateListing",
                message.encode_to_vec(),
                &id,
                &request_id,
                expected,
                Action::UpdateListing,
                |record, _now| {
                    if !record.listing.status.is_editable() {
                        return Err(invalid_transition(format!(
                            "cannot update a listing that is {}",
                            record.listing.status.code()
                        )));
                    }
                    let mut merged = pb::Listing::default();
                    convert::listing_content_to_proto(&record.listing.content, &mut merged);
                    for path in &paths {
                        copy_field(path, listing, &mut merged);
                    }
                    let mut violations = Violations::default();
                    let content = self.content(&merged, &mut violations);
                    violations.finish()?;
                    if let Some(content) = content {
                        record.listing.content = content;
                    }
                    Ok("updated")
                },
            )
            .await?;
        Ok(Response::new(updated))
    }

    async fn submit_listing(
        &self,
        request: Request<pb::SubmitListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let m = request.into_inner();
        let curation = Curation {
            action: CurationAction::Submit,
            rpc: "SubmitListing",
            authorize_as: Action::SubmitListing,
        };
        self.curate(
            &principal,
            curation,
            &m,
            (&m.id, &m.request_id, &m.etag, None),
        )
        .await
    }

    async fn approve_listing(
        &self,
        request: Request<pb::ApproveListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let m = request.into_inner();
        let curation = Curation {
            action: CurationAction::Approve,
            rpc: "ApproveListing",
            authorize_as: Action::ApproveListing,
        };
        self.curate(
            &principal,
            curation,
            &m,
            (&m.id, &m.request_id, &m.etag, None),
        )
        .await
    }

    async fn reject_listing(
        &self,
        request: Request<pb::RejectListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let m = request.into_inner();
        let curation = Curation {
            action: CurationAction::Reject {
                reason: m.reason.trim().to_owned(),
            },
            rpc: "RejectListing",
            authorize_as: Action::RejectListing,
        };
        self.curate(
            &principal,
            curation,
            &m,
            (&m.id, &m.request_id, &m.etag, Some(&m.reason)),
        )
        .await
    }

    async fn suspend_listing(
        &self,
        request: Request<pb::SuspendListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let m = request.into_inner();
        let curation = Curation {
            action: CurationAction::Suspend {
                reason: m.reason.trim().to_owned(),
            },
            rpc: "SuspendListing",
            authorize_as: Action::SuspendListing,
        };
        self.curate(
            &principal,
            curation,
            &m,
            (&m.id, &m.request_id, &m.etag, Some(&m.reason)),
        )
        .await
    }

    async fn withdraw_listing(
        &self,
        request: Request<pb::WithdrawListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let m = request.into_inner();
        let curation = Curation {
            action: CurationAction::Withdraw,
            rpc: "WithdrawListing",
            authorize_as: Action::WithdrawListing,
        };
        self.curate(
            &principal,
            curation,
            &m,
            (&m.id, &m.request_id, &m.etag, None),
        )
        .await
    }

    async fn verify_listing(
        &self,
        request: Request<pb::VerifyListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let m = request.into_inner();
        let curation = Curation {
            action: CurationAction::Verify,
            rpc: "VerifyListing",
            authorize_as: Action::VerifyListing,
        };
        self.curate(
            &principal,
            curation,
            &m,
            (&m.id, &m.request_id, &m.etag, None),
        )
        .await
    }

    async fn get_listing(
        &self,
        request: Request<pb::GetListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let id = listing_id(&request.get_ref().id, "id")
            .map_err(|v| ServiceError::InvalidArgument(vec![v]))?;
        let now = self.now();
        let (record, _) = self.visible_listing(&principal, &id, now).await?;
        Ok(Response::new(self.listing_to_proto(&record, now)))
    }

    async fn list_listings(
        &self,
        request: Request<pb::ListListingsRequest>,
    ) -> Result<Response<pb::ListListingsResponse>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let size = violations.keep(page_size(message.page_size));
        let provider = if message.provider_id.is_empty() {
            Some(None)
        } else {
            violations
                .keep(provider_id(&message.provider_id, "provider_id"))
                .map(Some)
        };
        let status = violations.keep(convert::listing_status_filter(message.state, "state"));
        let category = if message.category == 0 {
            Some(None)
        } else {
            violations
                .keep(convert::category(message.category, "category"))
                .map(Some)
        };
        let (size, provider, status, category) =
            violations.finish_with(|| Some((size?, provider?, status?, category?)))?;
        let now = self.now();
        let visibility = self.listing_view(&principal, &message, provider.as_ref(), status, now)?;
        let view = match visibility {
            Visibility::All => "all",
            Visibility::Public { .. } => "public",
            Visibility::Stale { .. } => "stale",
        };
        let filters = fingerprint(&[
            "listings",
            view,
            provider.as_ref().map_or("", ProviderId::as_str),
            status.unwrap_or(""),
            category.map_or("", welfare_core::category::Category::code),
        ]);
        let after_id = read_page_token(&message.page_token, filters)
            .map_err(|v| ServiceError::InvalidArgument(vec![v]))?;
        let mut records = self
            .store
            .listings(&ListingQuery {
                visibility,
                provider_id: provider,
                status,
                category,
                after_id,
                limit: size + 1,
            })
            .await
            .map_err(ServiceError::from)?;
        let next_page_token = next_token(&mut records, size, filters, |r| r.listing.id.as_str());
        Ok(Response::new(pb::ListListingsResponse {
            listings: records
                .iter()
                .map(|record| self.listing_to_proto(record, now))
                .collect(),
            next_page_token,
        }))
    }

    async fn search_listings(
        &self,
        request: Request<pb::SearchListingsRequest>,
    ) -> Result<Response<pb::SearchListingsResponse>, Status> {
        let message = request.into_inner();
        let started = std::time::Instant::now();
        let response = self.search(&message).await;
        crate::metrics::metrics().search_duration.record(
            started.elapsed().as_secs_f64() * 1e3,
            &[opentelemetry::KeyValue::new(
                "outcome",
                if response.is_ok() { "ok" } else { "error" },
            )],
        );
        Ok(Response::new(response?))
    }

    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let id = violations.keep(listing_id(&message.listing_id, "listing_id"));
        let profile = violations.keep(profile(message.profile.as_ref()));
        let (id, profile) = violations.finish_with(|| Some((id?, profile?)))?;
        let (record, _) = self.visible_listing(&principal, &id, self.now()).await?;
        let decision = record
            .listing
            .content
            .eligibility
            .evaluate(&profile, &self.territory);
        Ok(Response::new(pb::CheckEligibilityResponse {
            decision: Some(convert::decision_to_proto(&decision)),
        }))
    }

    async fn quote_listing(
        &self,
        request: Request<pb::QuoteListingRequest>,
    ) -> Result<Response<pb::QuoteListingResponse>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut violations = Violations::default();
        let id = violations.keep(listing_id(&message.listing_id, "listing_id"));
        let profile = violations.keep(profile(message.profile.as_ref()));
        if !(1..=pricing::MAX_QUANTITY).contains(&message.quantity) {
            violations.keep::<()>(Err(FieldViolation::new(
                "quantity",
                format!("must be 1 to {}", pricing::MAX_QUANTITY),
            )));
        }
        let wallet = violations.keep(
            convert::optional_money(message.wallet_available.as_ref(), "wallet_available")
                .and_then(|amount| match amount {
                    Some(amount) if amount.is_negative() => Err(FieldViolation::new(
                        "wallet_available",
                        "must not be negative",
                    )),
                    other => Ok(other.unwrap_or(Money::ZERO)),
                }),
        );
        let (id, profile, wallet) = violations.finish_with(|| Some((id?, profile?, wallet?)))?;
        let (record, _) = self.visible_listing(&principal, &id, self.now()).await?;
        let content = &record.listing.content;
        let quote = content
            .pricing
            .quote(&profile, message.quantity, &self.territory, wallet)
            .map_err(|e| ServiceError::invalid("quantity", e))?;
        let decision = content.eligibility.evaluate(&profile, &self.territory);
        Ok(Response::new(pb::QuoteListingResponse {
            quote: Some(convert::quote_to_proto(&quote)),
            decision: Some(convert::decision_to_proto(&decision)),
        }))
    }

    async fn list_categories(
        &self,
        _request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        Ok(Response::new(pb::ListCategoriesResponse {
            categories: convert::categories_to_proto(),
        }))
    }

    async fn list_municipalities(
        &self,
        _request: Request<pb::ListMunicipalitiesRequest>,
    ) -> Result<Response<pb::ListMunicipalitiesResponse>, Status> {
        Ok(Response::new(pb::ListMunicipalitiesResponse {
            territory_name: self.territory.name().to_owned(),
            municipalities: self
                .territory
                .municipalities()
                .iter()
                .map(|m| pb::Municipality {
                    istat_code: m.istat_code.to_string(),
                    name: m.name.clone(),
                    cadastral_code: m.cadastral_code.clone(),
                    postal_codes: m.postal_codes.clone(),
                    population: m.population,
                    centroid: Some(convert::geo_point_to_proto(m.centroid)),
                })
                .collect(),
            freshness_window_days: self.territory.freshness_window_days(),
        }))
    }

    type ExportCatalogStream = ExportStream;

    async fn export_catalog(
        &self,
        _request: Request<pb::ExportCatalogRequest>,
    ) -> Result<Response<Self::ExportCatalogStream>, Status> {
        let records = hsds::export(self.store.clone(), Arc::clone(&self.territory), self.now());
        Ok(Response::new(Box::pin(records)))
    }
}

/// Converts a profile and checks it, naming the field.
fn profile(
    value: Option<&welfare_proto::common::Profile>,
) -> Result<welfare_core::eligibility::Profile, FieldViolation> {
    let profile = convert::profile(value, "profile")?;
    profile
        .validate()
        .map_err(|e| FieldViolation::new("profile", e))?;
    Ok(profile)
}

/// The id, request id, etag (and reason, when the step needs one) of a curation request.
type StepFields<'a> = (&'a str, &'a str, &'a str, Option<&'a str>);

/// Checks the fields of a curation request, naming each bad one.
fn step_fields(
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
fn next_token<T>(records: &mut Vec<T>, size: i64, filters: u64, id: impl Fn(&T) -> &str) -> String {
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
        for bad in ["zz", "0", &token[..token.len() - 1], "00000000000000000000"] {
            assert!(read_page_token(bad, filters).is_err(), "{bad}");
        }
        assert_eq!(read_page_token("", filters).expect("empty"), None);
    }

    #[test]
    fn contacts_are_checked() {
        assert!(email("info@coop-arcobaleno.it", "e").is_ok());
        assert!(email("", "e").is_ok());
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
