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
use welfare_core::assess::{Assessment, assess};
use welfare_core::auth::{Action, Denied, Principal, Resource, authorize};
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{
    CurationAction, CurationError, FieldViolation, ListingStatus, REASON_MAX_CHARS, is_stale,
};
use welfare_core::provider::{ProviderAction, ProviderStatus, TaxId};
use welfare_core::territory::Territory;
use welfare_core::time::Timestamp;
use welfare_core::{Money, pricing};
use welfare_proto::catalog as pb;
use welfare_proto::catalog::catalog_service_server::CatalogService;
use welfare_proto::convert::{self, child};
use welfare_runtime::ServiceError;
use welfare_runtime::auth::principal;
use welfare_runtime::clock::Clock;
use welfare_runtime::error::Violations;

use crate::hsds;
use crate::local_words::LocalWords;
use crate::search::SearchIndex;
use welfare_runtime::uuid::new_uuid;

mod edge;
mod explain;
mod idempotency;
mod listings;
mod local_words;
mod providers;
mod search;

use crate::store::{
    CatalogStore, Change, CurrentListings, Fetched, ListingQuery, ListingRecord, OutboxEvent,
    ProviderQuery, ProviderRecord, RecordedRequest, StoreError, Topic, Visibility, Wanted,
};
use edge::*;

/// The gRPC service name.
pub const SERVICE_NAME: &str = "welfare.catalog.v1.CatalogService";
/// The default and largest page sizes of the list methods.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
/// Listings one `BatchGetListings` reads at most.
pub const MAX_BATCH_GET: usize = 100;
/// The longest request id.
pub use welfare_runtime::edge::MAX_REQUEST_ID_CHARS;
/// Display names of providers.
pub const NAME_MIN_CHARS: usize = 3;
pub const NAME_MAX_CHARS: usize = 200;
/// How often a change that lost a race without an etag is re-applied before giving up.
const CONFLICT_RETRIES: usize = 3;

/// The methods anyone may call without a token.
pub fn public_methods() -> Vec<String> {
    [
        "GetProvider",
        "ListProviders",
        "GetListing",
        "BatchGetListings",
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
    /// The current records of the listings a search finds (kept copies, checked by the store).
    current: CurrentListings<S>,
    /// The local words searches read (loaded by the indexer and after each change here).
    words: LocalWords,
}

impl<S: std::fmt::Debug, I> std::fmt::Debug for CatalogApi<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogApi")
            .field("store", &self.store)
            .field("territory", &self.territory.name())
            .finish_non_exhaustive()
    }
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    /// The service over `store`, searching `index` with the local words of `words` (the
    /// indexer's, so both read the same).
    pub fn new(
        store: S,
        index: I,
        territory: Arc<Territory>,
        clock: Clock,
        words: LocalWords,
    ) -> CatalogApi<S, I> {
        CatalogApi {
            current: CurrentListings::new(store.clone()),
            store,
            index,
            territory,
            clock,
            words,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The service as the runtime serves it: its routes (requests up to `max_message_bytes`),
    /// the methods open to anonymous callers, and its name for health and reflection.
    pub fn into_services(self, max_message_bytes: usize) -> welfare_runtime::ServiceSet {
        welfare_runtime::ServiceSet::new(
            tonic::service::Routes::new(
                pb::catalog_service_server::CatalogServiceServer::new(self)
                    .max_decoding_message_size(max_message_bytes),
            ),
            public_methods(),
            vec![SERVICE_NAME.to_owned()],
        )
    }

    pub fn territory(&self) -> &Territory {
        &self.territory
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The oldest verification still fresh at `now`.
    fn fresh_since(&self, now: Timestamp) -> Timestamp {
        self.territory.fresh_since(now)
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
        let details = self.provider_details(provider, &mut violations);
        let (request_id, details) = violations.finish_with(|| Some((request_id?, details?)))?;
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
            display_name: details.display_name,
            kind: details.kind,
            tax_id: details.tax_id,
            contact_email: details.contact_email,
            contact_phone: details.contact_phone,
            website_url: details.website_url,
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
        let filters = welfare_runtime::page_token::bound(
            &principal,
            &["providers", status.map_or("", ProviderStatus::code)],
        );
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

    async fn update_provider(
        &self,
        request: Request<pb::UpdateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let principal = principal(&request);
        Ok(Response::new(
            self.change_provider_details(&principal, request.into_inner())
                .await?,
        ))
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
        let paths = mask_paths(
            message.update_mask.as_ref(),
            &WRITABLE_FIELDS,
            &mut violations,
        );
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
        self.curation_step(request).await
    }

    async fn approve_listing(
        &self,
        request: Request<pb::ApproveListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        self.curation_step(request).await
    }

    async fn reject_listing(
        &self,
        request: Request<pb::RejectListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        self.curation_step(request).await
    }

    async fn suspend_listing(
        &self,
        request: Request<pb::SuspendListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        self.curation_step(request).await
    }

    async fn withdraw_listing(
        &self,
        request: Request<pb::WithdrawListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        self.curation_step(request).await
    }

    async fn verify_listing(
        &self,
        request: Request<pb::VerifyListingRequest>,
    ) -> Result<Response<pb::Listing>, Status> {
        self.curation_step(request).await
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

    async fn batch_get_listings(
        &self,
        request: Request<pb::BatchGetListingsRequest>,
    ) -> Result<Response<pb::BatchGetListingsResponse>, Status> {
        let principal = principal(&request);
        let listings = self
            .batch_get(&principal, &request.get_ref().ids, self.now())
            .await?;
        Ok(Response::new(pb::BatchGetListingsResponse { listings }))
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
        let filters = welfare_runtime::page_token::bound(
            &principal,
            &[
                "listings",
                view,
                provider.as_ref().map_or("", ProviderId::as_str),
                status.unwrap_or(""),
                category.map_or("", welfare_core::category::Category::code),
            ],
        );
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
        let principal = principal(&request);
        let message = request.into_inner();
        let started = std::time::Instant::now();
        let response = self.search(&principal, &message).await;
        if response.as_ref().is_ok_and(|r| r.total_size == 0) {
            crate::metrics::metrics().zero_results.add(1, &[]);
        }
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
        let Assessment { decision, quote } = assess(
            &content.eligibility,
            &content.pricing,
            &profile,
            message.quantity,
            &self.territory,
            wallet,
        );
        let quote = quote.map_err(|e| ServiceError::invalid("quantity", e))?;
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
            categories: convert::categories_to_proto(&self.words.current()),
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

    async fn list_local_words(
        &self,
        request: Request<pb::ListLocalWordsRequest>,
    ) -> Result<Response<pb::ListLocalWordsResponse>, Status> {
        let principal = principal(&request);
        Ok(Response::new(self.list_local_words(&principal).await?))
    }

    async fn put_local_word(
        &self,
        request: Request<pb::PutLocalWordRequest>,
    ) -> Result<Response<pb::LocalWord>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        Ok(Response::new(
            self.put_local_word(&principal, message).await?,
        ))
    }

    async fn delete_local_word(
        &self,
        request: Request<pb::DeleteLocalWordRequest>,
    ) -> Result<Response<pb::DeleteLocalWordResponse>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        Ok(Response::new(
            self.delete_local_word(&principal, message).await?,
        ))
    }
}
