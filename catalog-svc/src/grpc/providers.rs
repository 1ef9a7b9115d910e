//! Providers on the wire and their vetting: registration stays pending until the Ufficio di
//! Piano approves; only the caller who may see a provider learns it exists.

use super::*;

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

    /// Applies a vetting step to a provider, re-reading on a lost race when no etag was given.
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
}

/// A contact detail on the wire: empty for none.
fn contact_string<T: AsRef<str>>(value: Option<&T>) -> String {
    value.map_or_else(String::new, |v| v.as_ref().to_owned())
}
