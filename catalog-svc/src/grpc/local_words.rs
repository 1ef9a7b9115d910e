//! The Ambito's local words on the wire: curators list, add, change and remove them; each change
//! is one transaction with its outbox row (the audit: who, when, the meaning before and after)
//! and recorded answer, then put in force in this process at once (the indexer brings it to the
//! other replicas and re-indexes the subcategories it names).

use welfare_core::local_words::{LocalWord, LocalWordError, Meaning, ensure_room};
use welfare_core::need::{self, Situation};
use welfare_core::text::fold;

use super::*;
use crate::store::LocalWordRecord;

/// The meaning a request names, or the field it is wrong in.
fn meaning_of(
    subcategory: Option<&str>,
    situation: Option<&str>,
) -> Result<Meaning, FieldViolation> {
    match (subcategory, situation) {
        (Some(code), None) => {
            Meaning::service(code.trim()).map_err(|e| FieldViolation::new("subcategory", e))
        }
        (None, Some(code)) => {
            Meaning::situation(code.trim()).map_err(|e| FieldViolation::new("situation", e))
        }
        _ => Err(FieldViolation::new(
            "meaning",
            "is required: a subcategory or a situation code",
        )),
    }
}

/// A word's phrase as a request names it: folded, as stored.
fn phrase_of(value: &str) -> Result<String, FieldViolation> {
    let folded = fold(value);
    if folded.is_empty() {
        return Err(FieldViolation::new("phrase", LocalWordError::Empty));
    }
    Ok(folded)
}

fn local_word_not_found(phrase: &str) -> ServiceError {
    ServiceError::NotFound {
        resource: "local word",
        id: phrase.to_owned(),
    }
}

fn local_word_exists(phrase: &str) -> ServiceError {
    ServiceError::AlreadyExists {
        reason: "LOCAL_WORD_EXISTS",
        message: format!(
            "the local word {phrase:?} already exists: name its etag to change what it means"
        ),
    }
}

/// A word on the wire.
fn local_word_to_proto(record: &LocalWordRecord) -> pb::LocalWord {
    use pb::local_word::Meaning as M;
    let code = record.word.meaning.code().to_owned();
    pb::LocalWord {
        phrase: record.word.phrase.clone(),
        meaning: Some(match record.word.meaning {
            Meaning::Service(_) => M::Subcategory(code),
            Meaning::Situation(_) => M::Situation(code),
        }),
        etag: etag(record.version),
        updated_by: record.updated_by.clone(),
        create_time: Some(convert::timestamp_to_proto(record.created_at)),
        update_time: Some(convert::timestamp_to_proto(record.updated_at)),
    }
}

/// The outbox row of a change: the word's meaning after (none once deleted) and before.
fn local_word_event(
    phrase: &str,
    kind: &str,
    after: Option<&LocalWordRecord>,
    before: Option<&LocalWordRecord>,
) -> OutboxEvent {
    let meaning = |record: Option<&LocalWordRecord>| {
        record.map_or(serde_json::Value::Null, |r| {
            serde_json::json!({
                "kind": r.word.meaning.kind(),
                "code": r.word.meaning.code(),
                "version": r.version,
                "by": r.updated_by,
            })
        })
    };
    let mut payload = meaning(after);
    if payload.is_null() {
        payload = serde_json::json!({});
    }
    if let Some(object) = payload.as_object_mut() {
        object.insert("phrase".to_owned(), phrase.into());
        object.insert("before".to_owned(), meaning(before));
    }
    OutboxEvent {
        topic: Topic::LocalWord,
        entity_id: phrase.to_owned(),
        kind: format!("local_word.{kind}"),
        payload: payload.to_string(),
    }
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    /// The stored word with this phrase, if any.
    async fn stored_word(&self, phrase: &str) -> Result<Option<LocalWordRecord>, ServiceError> {
        Ok(self
            .store
            .local_words()
            .await?
            .into_iter()
            .find(|record| record.word.phrase == phrase))
    }

    pub(super) async fn list_local_words(
        &self,
        principal: &Principal,
    ) -> Result<pb::ListLocalWordsResponse, ServiceError> {
        authorize(principal, Action::ManageLocalWords, Resource::Catalog).map_err(denied)?;
        let records = self.store.local_words().await?;
        let local_phrases = |code: &str| -> Vec<String> {
            records
                .iter()
                .filter(|r| r.word.meaning.kind() == "situation" && r.word.meaning.code() == code)
                .map(|r| r.word.phrase.clone())
                .collect()
        };
        Ok(pb::ListLocalWordsResponse {
            words: records.iter().map(local_word_to_proto).collect(),
            situations: Situation::all()
                .iter()
                .map(|situation| pb::SituationInfo {
                    code: situation.code.to_owned(),
                    label: situation.label_it.to_owned(),
                    phrases: situation.phrases.iter().map(|p| (*p).to_owned()).collect(),
                    local_phrases: local_phrases(situation.code),
                    subcategories: need::answers(&[need::Recognised {
                        situation,
                        phrase: String::new(),
                    }])
                    .iter()
                    .map(|(sub, _)| sub.code.to_owned())
                    .collect(),
                })
                .collect(),
        })
    }

    pub(super) async fn put_local_word(
        &self,
        principal: &Principal,
        message: pb::PutLocalWordRequest,
    ) -> Result<pb::LocalWord, ServiceError> {
        use pb::put_local_word_request::Meaning as M;
        let mut v = Violations::default();
        let meaning = v.keep(meaning_of(
            match &message.meaning {
                Some(M::Subcategory(code)) => Some(code.as_str()),
                _ => None,
            },
            match &message.meaning {
                Some(M::Situation(code)) => Some(code.as_str()),
                _ => None,
            },
        ));
        let word = meaning.and_then(|meaning| {
            v.keep(
                LocalWord::new(&message.phrase, meaning, &self.territory)
                    .map_err(|e| FieldViolation::new("phrase", e)),
            )
        });
        let expected = v.keep(etag_version(&message.etag, "etag"));
        let request_id = v.keep(request_id(&message.request_id));
        let (word, expected, request_id) =
            v.finish_with(|| Some((word?, expected?, request_id?)))?;
        authorize(principal, Action::ManageLocalWords, Resource::Catalog).map_err(denied)?;
        let scope = Self::scope(principal)?;
        let subject = Self::subject(principal)?;
        let method = method("PutLocalWord");
        let bytes = message.encode_to_vec();
        // Authorised first, then replayed: no answer reaches a caller who may not act.
        if let Some(answer) = self.replay(&scope, &request_id, &method, &bytes).await? {
            return Ok(answer);
        }
        let before = self.stored_word(&word.phrase).await?;
        let now = self.now();
        let record = match (&before, expected) {
            (Some(_), None) => return Err(local_word_exists(&word.phrase)),
            (None, Some(_)) => return Err(local_word_not_found(&word.phrase)),
            (Some(stored), Some(version)) => {
                check_etag(Some(version), stored.version, "local word", &word.phrase)?;
                LocalWordRecord {
                    word: word.clone(),
                    updated_by: subject,
                    version: stored.version + 1,
                    created_at: stored.created_at,
                    updated_at: now,
                }
            }
            (None, None) => {
                ensure_room(self.store.local_words().await?.len()).map_err(|full| {
                    ServiceError::FailedPrecondition {
                        reason: "LOCAL_WORDS_FULL",
                        message: full.to_string(),
                        violations: Vec::new(),
                    }
                })?;
                LocalWordRecord {
                    word: word.clone(),
                    updated_by: subject,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        let response = local_word_to_proto(&record);
        let kind = if before.is_some() { "changed" } else { "added" };
        let change = Self::change(
            &scope,
            &request_id,
            &method,
            bytes.clone(),
            &response,
            now,
            local_word_event(&word.phrase, kind, Some(&record), before.as_ref()),
        );
        match self.store.put_local_word(&record, &change).await {
            Ok(()) => {}
            Err(StoreError::VersionConflict { .. }) if before.is_none() => {
                return Err(local_word_exists(&word.phrase));
            }
            Err(StoreError::RequestRecorded(_)) => {
                return self
                    .replay_after_race(&scope, &request_id, &method, &bytes)
                    .await;
            }
            Err(error) => return Err(error.into()),
        }
        self.words.load(&self.store).await?;
        Ok(response)
    }

    pub(super) async fn delete_local_word(
        &self,
        principal: &Principal,
        message: pb::DeleteLocalWordRequest,
    ) -> Result<pb::DeleteLocalWordResponse, ServiceError> {
        let mut v = Violations::default();
        let phrase = v.keep(phrase_of(&message.phrase));
        let expected = v.keep(etag_version(&message.etag, "etag").and_then(|version| {
            version.ok_or_else(|| {
                FieldViolation::new("etag", "is required: the etag of the word read last")
            })
        }));
        let request_id = v.keep(request_id(&message.request_id));
        let (phrase, expected, request_id) =
            v.finish_with(|| Some((phrase?, expected?, request_id?)))?;
        authorize(principal, Action::ManageLocalWords, Resource::Catalog).map_err(denied)?;
        let scope = Self::scope(principal)?;
        let method = method("DeleteLocalWord");
        let bytes = message.encode_to_vec();
        if let Some(answer) = self.replay(&scope, &request_id, &method, &bytes).await? {
            return Ok(answer);
        }
        let stored = self
            .stored_word(&phrase)
            .await?
            .ok_or_else(|| local_word_not_found(&phrase))?;
        check_etag(Some(expected), stored.version, "local word", &phrase)?;
        let now = self.now();
        let response = pb::DeleteLocalWordResponse {
            deleted: Some(local_word_to_proto(&stored)),
        };
        let change = Self::change(
            &scope,
            &request_id,
            &method,
            bytes.clone(),
            &response,
            now,
            local_word_event(&phrase, "deleted", None, Some(&stored)),
        );
        match self
            .store
            .delete_local_word(&phrase, stored.version, &change)
            .await
        {
            Ok(()) => {}
            Err(StoreError::RequestRecorded(_)) => {
                return self
                    .replay_after_race(&scope, &request_id, &method, &bytes)
                    .await;
            }
            Err(error) => return Err(error.into()),
        }
        self.words.load(&self.store).await?;
        Ok(response)
    }
}
