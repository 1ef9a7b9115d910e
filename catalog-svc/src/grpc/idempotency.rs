//! Request ids: the first answer to a mutation recorded with its change, replayed to a retry
//! only after the retry is authorised, in the namespace of the caller's subject and tenancy.

use super::*;

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    /// The caller's identity for request ids: mutations need one.
    pub(super) fn subject(principal: &Principal) -> Result<String, ServiceError> {
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
    pub(super) fn scope(principal: &Principal) -> Result<String, ServiceError> {
        let subject = Self::subject(principal)?;
        let provider = principal.provider_id.as_ref().map_or("", |p| p.as_str());
        let company = principal.company_id.as_ref().map_or("", |c| c.as_str());
        Ok(format!("{subject}/{provider}/{company}"))
    }

    /// The first answer to this request, if it was already answered; `REQUEST_ID_REUSED` if
    /// the id was used for a different request.
    pub(super) async fn replay<R: Message + Default>(
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
    pub(super) async fn replay_after_race<R: Message + Default>(
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

    pub(super) fn change(
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
}
