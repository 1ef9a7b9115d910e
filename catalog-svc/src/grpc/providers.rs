//! Providers on the wire and their vetting: registration stays pending until the Ufficio di
//! Piano approves; only the caller who may see a provider learns it exists.

use super::*;
use welfare_core::provider::{IDENTITY_CHANGED_REASON, Provider};

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    pub(super) fn provider_to_proto(record: &ProviderRecord) -> pb::Provider {
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
            contact_email: contact_string(record.contact_email.as_ref()),
            contact_phone: contact_string(record.contact_phone.as_ref()),
            website_url: contact_string(record.website_url.as_ref()),
            state: state.into(),
            state_reason: record.state_reason.clone(),
            create_time: Some(convert::timestamp_to_proto(record.created_at)),
            update_time: Some(convert::timestamp_to_proto(record.updated_at)),
            etag: etag(record.version),
        }
    }

    pub(super) fn provider_event(record: &ProviderRecord, kind: &str) -> OutboxEvent {
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
    pub(super) async fn visible_provider(
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

    /// Applies a vetting step to a provider.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn vet_provider(
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
        let (wanted, kind) = match action {
            ProviderAction::Approve => (Action::ApproveProvider, "approved"),
            ProviderAction::Suspend => (Action::SuspendProvider, "suspended"),
        };
        let edit = Edit {
            rpc,
            request_bytes,
            id,
            request_id,
            expected,
            action: wanted,
            kind,
        };
        self.edit_provider(principal, edit, |record| {
            record.status = record
                .status
                .apply(action)
                .map_err(|e| invalid_transition(e.to_string()))?;
            record.state_reason = state_reason.to_owned();
            Ok(())
        })
        .await
    }

    /// One change to a provider: read as the caller may see it, authorised for `edit.action`,
    /// replayed for a known request id, checked against the etag, changed by `change`, and
    /// saved with its outbox event — re-read on a lost race when no etag was given.
    async fn edit_provider(
        &self,
        principal: &Principal,
        edit: Edit<'_>,
        change: impl Fn(&mut ProviderRecord) -> Result<(), ServiceError>,
    ) -> Result<pb::Provider, ServiceError> {
        let Edit {
            rpc,
            request_bytes,
            id,
            request_id,
            expected,
            action,
            kind,
        } = edit;
        let scope = Self::scope(principal)?;
        let method = method(rpc);
        for attempt in 1..=CONFLICT_RETRIES {
            let mut record = self.visible_provider(principal, id).await?;
            let resource = Resource::Provider {
                id: &record.id,
                approved: record.status == ProviderStatus::Approved,
            };
            authorize(principal, action, resource).map_err(denied)?;
            // Authorised first, then replayed: no answer reaches a caller who may not act.
            if let Some(answer) = self
                .replay(&scope, request_id, &method, &request_bytes)
                .await?
            {
                return Ok(answer);
            }
            check_etag(expected, record.version, "provider", id.as_str())?;
            change(&mut record)?;
            let now = self.now();
            record.version += 1;
            record.updated_at = now;
            let response = Self::provider_to_proto(&record);
            let saved = Self::change(
                &scope,
                request_id,
                &method,
                request_bytes.clone(),
                &response,
                now,
                Self::provider_event(&record, kind),
            );
            match self.store.update_provider(&record, &saved).await {
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
}

/// What [`CatalogApi::edit_provider`] is asked to do, besides the change itself.
struct Edit<'a> {
    rpc: &'a str,
    request_bytes: Vec<u8>,
    id: &'a ProviderId,
    request_id: &'a str,
    expected: Option<i64>,
    action: Action,
    /// The outbox event's kind: `provider.<kind>`.
    kind: &'a str,
}

/// A provider's details as a caller gave them, each checked.
pub(super) struct ProviderDetails {
    pub(super) display_name: String,
    pub(super) kind: welfare_core::provider::ProviderKind,
    pub(super) tax_id: TaxId,
    pub(super) contact_email: Option<welfare_core::contact::Email>,
    pub(super) contact_phone: Option<welfare_core::contact::Phone>,
    pub(super) website_url: Option<welfare_core::contact::Website>,
}

impl ProviderDetails {
    /// Writes the details into `record`.
    fn apply_to(self, record: &mut ProviderRecord) {
        record.display_name = self.display_name;
        record.kind = self.kind;
        record.tax_id = self.tax_id;
        record.contact_email = self.contact_email;
        record.contact_phone = self.contact_phone;
        record.website_url = self.website_url;
    }
}

/// The domain's view of a stored provider: what its vetting decides on.
fn domain(record: &ProviderRecord) -> Provider {
    Provider {
        id: record.id.clone(),
        name: record.display_name.clone(),
        kind: record.kind.clone(),
        tax_id: record.tax_id.clone(),
        status: record.status,
    }
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    /// Checks a provider's details as registered or changed, every bad field named in
    /// `violations` (as `provider.<field>`).
    pub(super) fn provider_details(
        &self,
        provider: &pb::Provider,
        violations: &mut Violations,
    ) -> Option<ProviderDetails> {
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
        Some(ProviderDetails {
            display_name: name?,
            kind: kind?,
            tax_id: tax_id?,
            contact_email: contact_email?,
            contact_phone: contact_phone?,
            website_url: website_url?,
        })
    }

    /// `UpdateProvider`: the masked fields over the stored ones, checked as a registration
    /// is; a new identity sends an approved provider back to the Ufficio di Piano.
    pub(super) async fn change_provider_details(
        &self,
        principal: &Principal,
        message: pb::UpdateProviderRequest,
    ) -> Result<pb::Provider, ServiceError> {
        let request_bytes = message.encode_to_vec();
        let mut violations = Violations::default();
        let empty = pb::Provider::default();
        let given = message.provider.as_ref().unwrap_or(&empty);
        if message.provider.is_none() {
            violations.keep::<()>(Err(FieldViolation::new("provider", "is required")));
        }
        let id = violations.keep(provider_id(&given.id, "provider.id"));
        let expected = violations.keep(etag_version(&given.etag, "provider.etag"));
        let request_id = violations.keep(request_id(&message.request_id));
        let paths = mask_paths(
            message.update_mask.as_ref(),
            &PROVIDER_WRITABLE_FIELDS,
            &mut violations,
        );
        let (id, expected, request_id) =
            violations.finish_with(|| Some((id?, expected?, request_id?)))?;
        let edit = Edit {
            rpc: "UpdateProvider",
            request_bytes,
            id: &id,
            request_id: &request_id,
            expected,
            action: Action::UpdateProvider,
            kind: "updated",
        };
        self.edit_provider(principal, edit, |record| {
            let mut merged = Self::provider_to_proto(record);
            for path in &paths {
                copy_provider_field(path, given, &mut merged);
            }
            let mut violations = Violations::default();
            let details = self.provider_details(&merged, &mut violations);
            let details = violations.finish_with(|| details)?;
            let before = domain(record);
            details.apply_to(record);
            let status = before.status_after_change(&domain(record));
            if status != record.status {
                record.status = status;
                record.state_reason = IDENTITY_CHANGED_REASON.to_owned();
            }
            Ok(())
        })
        .await
    }
}

/// A contact detail on the wire: empty for none.
fn contact_string<T: AsRef<str>>(value: Option<&T>) -> String {
    value.map_or_else(String::new, |v| v.as_ref().to_owned())
}
