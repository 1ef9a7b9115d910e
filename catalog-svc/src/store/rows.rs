//! Rows as the tables hold them, converted to the domain's types apart: a stored value the
//! domain refuses is an error, never a silent default.

use super::*;

pub(super) const PROVIDER_COLUMNS: &str = "id, display_name, kind, runts_number, comune_istat_code, \
    tax_code, contact_email, contact_phone, website_url, status, state_reason, registered_by, \
    version, created_at, updated_at";

pub(super) const LISTING_COLUMNS: &str = "l.id, l.provider_id, l.status, l.state_reason, l.content, \
    l.verified_at, l.version, l.created_at, l.updated_at";

/// A `providers` row as stored.
pub(super) struct ProviderRow {
    id: String,
    display_name: String,
    kind: String,
    runts_number: String,
    comune_istat_code: String,
    tax_code: String,
    contact_email: String,
    contact_phone: String,
    website_url: String,
    status: String,
    state_reason: String,
    registered_by: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl ProviderRow {
    pub(super) fn read(row: &AnyRow) -> Result<ProviderRow, sqlx::Error> {
        Ok(ProviderRow {
            id: row.try_get("id")?,
            display_name: row.try_get("display_name")?,
            kind: row.try_get("kind")?,
            runts_number: row.try_get("runts_number")?,
            comune_istat_code: row.try_get("comune_istat_code")?,
            tax_code: row.try_get("tax_code")?,
            contact_email: row.try_get("contact_email")?,
            contact_phone: row.try_get("contact_phone")?,
            website_url: row.try_get("website_url")?,
            status: row.try_get("status")?,
            state_reason: row.try_get("state_reason")?,
            registered_by: row.try_get("registered_by")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    pub(super) fn into_record(self) -> Result<ProviderRecord, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            entity: "provider",
            id: self.id.clone(),
            problem,
        };
        let kind = match self.kind.as_str() {
            "ets" => ProviderKind::Ets {
                runts_number: RuntsNumber::parse(&self.runts_number)
                    .map_err(|e| corrupt(e.to_string()))?,
            },
            "comune" => ProviderKind::Comune {
                istat_code: IstatCode::parse(&self.comune_istat_code)
                    .map_err(|e| corrupt(e.to_string()))?,
            },
            "azienda_speciale" => ProviderKind::AziendaSpeciale,
            "cooperativa_sociale" => ProviderKind::CooperativaSociale,
            "company" => ProviderKind::Company,
            other => return Err(corrupt(format!("unknown kind {other:?}"))),
        };
        Ok(ProviderRecord {
            id: ProviderId::parse(&self.id).map_err(|e| corrupt(e.to_string()))?,
            kind,
            tax_id: TaxId::parse(&self.tax_code).map_err(|e| corrupt(e.to_string()))?,
            status: ProviderStatus::from_code(&self.status)
                .ok_or_else(|| corrupt(format!("unknown status {:?}", self.status)))?,
            display_name: self.display_name,
            contact_email: stored_contact(&self.contact_email, Email::parse)?,
            contact_phone: stored_contact(&self.contact_phone, Phone::parse)?,
            website_url: stored_contact(&self.website_url, Website::parse)?,
            state_reason: self.state_reason,
            registered_by: self.registered_by,
            version: self.version,
            created_at: Timestamp::from_unix_seconds(self.created_at),
            updated_at: Timestamp::from_unix_seconds(self.updated_at),
        })
    }
}

/// A `listings` row as stored.
pub(super) struct ListingRow {
    id: String,
    provider_id: String,
    status: String,
    state_reason: String,
    content: String,
    verified_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl ListingRow {
    pub(super) fn read(row: &AnyRow) -> Result<ListingRow, sqlx::Error> {
        Ok(ListingRow {
            id: row.try_get("id")?,
            provider_id: row.try_get("provider_id")?,
            status: row.try_get("status")?,
            state_reason: row.try_get("state_reason")?,
            content: row.try_get("content")?,
            verified_at: row.try_get("verified_at")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    pub(super) fn into_record(self) -> Result<ListingRecord, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            entity: "listing",
            id: self.id.clone(),
            problem,
        };
        let reason = self.state_reason.clone();
        let status = match self.status.as_str() {
            "draft" => ListingStatus::Draft,
            "submitted" => ListingStatus::Submitted,
            "published" => ListingStatus::Published,
            "rejected" => ListingStatus::Rejected { reason },
            "suspended" => ListingStatus::Suspended { reason },
            "withdrawn" => ListingStatus::Withdrawn,
            other => return Err(corrupt(format!("unknown status {other:?}"))),
        };
        let content: ListingContent =
            serde_json::from_str(&self.content).map_err(|e| corrupt(e.to_string()))?;
        Ok(ListingRecord {
            listing: Listing {
                id: ListingId::parse(&self.id).map_err(|e| corrupt(e.to_string()))?,
                provider_id: ProviderId::parse(&self.provider_id)
                    .map_err(|e| corrupt(e.to_string()))?,
                content,
                status,
                verified_at: self.verified_at.map(Timestamp::from_unix_seconds),
            },
            version: self.version,
            created_at: Timestamp::from_unix_seconds(self.created_at),
            updated_at: Timestamp::from_unix_seconds(self.updated_at),
        })
    }
}

/// The columns a provider is written with, in `PROVIDER_COLUMNS` order after `id`.
pub(super) fn provider_values(p: &ProviderRecord) -> (String, String) {
    match &p.kind {
        ProviderKind::Ets { runts_number } => (runts_number.as_str().to_owned(), String::new()),
        ProviderKind::Comune { istat_code } => (String::new(), istat_code.to_string()),
        _ => (String::new(), String::new()),
    }
}

pub(super) fn status_reason(status: &ListingStatus) -> &str {
    match status {
        ListingStatus::Rejected { reason } | ListingStatus::Suspended { reason } => reason,
        _ => "",
    }
}

pub(super) fn content_json(listing: &ListingRecord) -> Result<String, StoreError> {
    serde_json::to_string(&listing.listing.content).map_err(|e| StoreError::Corrupt {
        entity: "listing",
        id: listing.listing.id.to_string(),
        problem: e.to_string(),
    })
}

/// An outbox row read back.
pub(super) fn outbox_entry(row: &AnyRow) -> Result<OutboxEntry, StoreError> {
    let topic: String = row.try_get("topic")?;
    let seq: i64 = row.try_get("seq")?;
    let topic = match topic.as_str() {
        "provider" => Topic::Provider,
        "listing" => Topic::Listing,
        "local_word" => Topic::LocalWord,
        other => {
            return Err(StoreError::Corrupt {
                entity: "outbox row",
                id: seq.to_string(),
                problem: format!("unknown topic {other:?}"),
            });
        }
    };
    Ok(OutboxEntry {
        seq,
        event: OutboxEvent {
            topic,
            entity_id: row.try_get("entity_id")?,
            kind: row.try_get("kind")?,
            payload: row.try_get("payload")?,
        },
        created_at: Timestamp::from_unix_seconds(row.try_get("created_at")?),
    })
}

/// A listing row joined with its provider's status.
pub(super) fn listing_with_status(
    row: &AnyRow,
) -> Result<(ListingRecord, ProviderStatus), StoreError> {
    Ok((ListingRow::read(row)?.into_record()?, provider_status(row)?))
}

/// The `provider_status` column of a listing row joined with its provider.
pub(super) fn provider_status(row: &AnyRow) -> Result<ProviderStatus, StoreError> {
    let status: String = row.try_get("provider_status")?;
    ProviderStatus::from_code(&status).ok_or_else(|| StoreError::Corrupt {
        entity: "provider",
        id: row.try_get("provider_id").unwrap_or_default(),
        problem: format!("unknown status {status:?}"),
    })
}

/// A row of `listings_by_id`: without its content when the caller holds its version.
pub(super) fn fetched(row: &AnyRow) -> Result<Fetched, StoreError> {
    if !row.try_get_raw("content")?.is_null() {
        let (record, status) = listing_with_status(row)?;
        return Ok(Fetched::Read(Box::new(record), status));
    }
    let id: String = row.try_get("id")?;
    Ok(Fetched::Held {
        id: ListingId::parse(&id).map_err(|e| StoreError::Corrupt {
            entity: "listing",
            id: id.clone(),
            problem: e.to_string(),
        })?,
        provider_status: provider_status(row)?,
    })
}

/// A stored contact detail: empty for none; anything else must parse.
fn stored_contact<T>(
    text: &str,
    parse: fn(&str) -> Result<T, welfare_core::contact::ContactError>,
) -> Result<Option<T>, StoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    parse(text).map(Some).map_err(|e| StoreError::Corrupt {
        entity: "provider contact",
        id: text.to_owned(),
        problem: e.to_string(),
    })
}

/// A contact detail as stored: empty for none.
pub(super) fn contact_text<T: AsRef<str>>(value: Option<&T>) -> &str {
    value.map_or("", AsRef::as_ref)
}

/// A `local_words` row read back.
pub(super) fn local_word_record(row: &AnyRow) -> Result<LocalWordRecord, StoreError> {
    let phrase: String = row.try_get("phrase")?;
    let kind: String = row.try_get("kind")?;
    let code: String = row.try_get("code")?;
    let meaning = Meaning::from_stored(&kind, &code).map_err(|e| StoreError::Corrupt {
        entity: "local word",
        id: phrase.clone(),
        problem: e.to_string(),
    })?;
    Ok(LocalWordRecord {
        word: LocalWord { phrase, meaning },
        updated_by: row.try_get("updated_by")?,
        version: row.try_get("version")?,
        created_at: Timestamp::from_unix_seconds(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix_seconds(row.try_get("updated_at")?),
    })
}

/// An `outbox_consumers` row as the domain of the indexer reads it.
pub(super) fn consumer_record(row: &AnyRow) -> Result<ConsumerRecord, StoreError> {
    let name: String = row.try_get("consumer")?;
    let corrupt = |problem: String| StoreError::Corrupt {
        entity: "outbox consumer",
        id: name.clone(),
        problem,
    };
    let kind = match row.try_get::<String, _>("kind")?.as_str() {
        "shared" => ConsumerKind::Shared,
        "replica" => ConsumerKind::Replica,
        other => return Err(corrupt(format!("unknown kind {other:?}"))),
    };
    let gaps: String = row.try_get("gaps")?;
    let gaps = serde_json::from_str(&gaps).map_err(|e| corrupt(format!("gaps: {e}")))?;
    Ok(ConsumerRecord {
        cursor: OutboxCursor {
            position: row.try_get("position")?,
            gaps,
        },
        stamp: row.try_get("stamp")?,
        kind,
        updated_at: row.try_get("updated_at")?,
        name,
    })
}
