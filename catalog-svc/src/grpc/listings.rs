//! Listings on the wire and their changes: edits and curation steps applied through the
//! domain's workflow, each written with its outbox row and recorded answer.

use super::*;

/// A change a curation RPC asks for, and the outbox kind it produces.
struct Curation {
    action: CurationAction,
    rpc: &'static str,
    authorize_as: Action,
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    pub(super) fn listing_to_proto(&self, record: &ListingRecord, now: Timestamp) -> pb::Listing {
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

    pub(super) fn listing_event(record: &ListingRecord, kind: &str) -> OutboxEvent {
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
    pub(super) async fn visible_listing(
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
        let public = self.readable(principal, &record, provider_status, now)?;
        Ok((record, public))
    }

    /// Whether the listing is public, when `principal` may read it; `NOT_FOUND` when not (a
    /// listing one may not see does not exist for them).
    fn readable(
        &self,
        principal: &Principal,
        record: &ListingRecord,
        provider_status: ProviderStatus,
        now: Timestamp,
    ) -> Result<bool, ServiceError> {
        let public = record
            .listing
            .is_public(provider_status, now, &self.territory);
        let resource = Resource::Listing {
            provider_id: &record.listing.provider_id,
            public,
        };
        authorize(principal, Action::ReadListing, resource)
            .map_err(|_| listing_not_found(record.listing.id.as_str()))?;
        Ok(public)
    }

    /// The listings `ids` names, in that order, each as `GetListing` would answer it: every id
    /// well formed (else each bad one is named), then all of them or `NOT_FOUND` for the first
    /// missing or invisible one — a listing the caller may not see is not found, as with
    /// `GetListing`.
    pub(super) async fn batch_get(
        &self,
        principal: &Principal,
        ids: &[String],
        now: Timestamp,
    ) -> Result<Vec<pb::Listing>, ServiceError> {
        if ids.is_empty() || ids.len() > MAX_BATCH_GET {
            return Err(ServiceError::invalid(
                "ids",
                format!("names 1 to {MAX_BATCH_GET} listings, not {}", ids.len()),
            ));
        }
        let mut violations = Violations::default();
        let parsed: Vec<Option<ListingId>> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| violations.keep(listing_id(id, &format!("ids[{n}]"))))
            .collect();
        let parsed = violations.finish_with(|| parsed.into_iter().collect::<Option<Vec<_>>>())?;
        let wanted: Vec<Wanted> = parsed
            .iter()
            .map(|id| Wanted {
                id: id.clone(),
                held_version: None,
            })
            .collect();
        let mut found = std::collections::HashMap::new();
        for fetched in self.store.listings_by_id(&wanted).await? {
            if let Fetched::Read(record, provider_status) = fetched {
                found.insert(record.listing.id.to_string(), (*record, provider_status));
            }
        }
        parsed
            .iter()
            .map(|id| {
                let (record, provider_status) = found
                    .get(id.as_str())
                    .ok_or_else(|| listing_not_found(id.as_str()))?;
                self.readable(principal, record, *provider_status, now)?;
                Ok(self.listing_to_proto(record, now))
            })
            .collect()
    }

    /// Applies `edit` to a listing: replay, visibility, authorization, etag, write with its
    /// outbox row and recorded answer; re-read and re-apply on a lost race without an etag.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn change_listing<F>(
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
    pub(super) fn content(
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
    pub(super) fn listing_view(
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

/// A curation request: which step it asks for, named once in the table below.
pub(super) trait CurationStep: prost::Message + Sized {
    /// The RPC's name.
    const RPC: &'static str;
    /// What the caller must be allowed to do.
    const AUTHORIZE_AS: Action;
    /// The workflow's action, with the request's reason where the step takes one.
    fn action(&self) -> CurationAction;
    /// The id, request id, etag and reason to check.
    fn fields(&self) -> StepFields<'_>;
}

/// The curation steps: request type, RPC, the action authorised, the workflow's action.
macro_rules! curation_steps {
    ($($request:ident: $rpc:literal, $authorize:ident, |$m:pat_param| $action:expr, reason: $reason:ident;)*) => {$(
        impl CurationStep for pb::$request {
            const RPC: &'static str = $rpc;
            const AUTHORIZE_AS: Action = Action::$authorize;
            fn action(&self) -> CurationAction {
                let $m = self;
                $action
            }
            fn fields(&self) -> StepFields<'_> {
                (&self.id, &self.request_id, &self.etag, curation_steps!(@reason self $reason))
            }
        }
    )*};
    (@reason $self:ident yes) => { Some(&$self.reason) };
    (@reason $self:ident no) => { None };
}

curation_steps! {
    SubmitListingRequest: "SubmitListing", SubmitListing, |_| CurationAction::Submit, reason: no;
    ApproveListingRequest: "ApproveListing", ApproveListing, |_| CurationAction::Approve, reason: no;
    RejectListingRequest: "RejectListing", RejectListing,
        |m| CurationAction::Reject { reason: m.reason.trim().to_owned() }, reason: yes;
    SuspendListingRequest: "SuspendListing", SuspendListing,
        |m| CurationAction::Suspend { reason: m.reason.trim().to_owned() }, reason: yes;
    WithdrawListingRequest: "WithdrawListing", WithdrawListing, |_| CurationAction::Withdraw, reason: no;
    VerifyListingRequest: "VerifyListing", VerifyListing, |_| CurationAction::Verify, reason: no;
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    /// A curation RPC, whichever step: its fields checked, then the step applied.
    pub(super) async fn curation_step<R: CurationStep>(
        &self,
        request: Request<R>,
    ) -> Result<Response<pb::Listing>, Status> {
        let principal = principal(&request);
        let message = request.into_inner();
        let curation = Curation {
            action: message.action(),
            rpc: R::RPC,
            authorize_as: R::AUTHORIZE_AS,
        };
        self.curate(&principal, curation, &message, message.fields())
            .await
    }
}
