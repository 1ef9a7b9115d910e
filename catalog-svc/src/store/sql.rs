//! The SQL adapter of [`CatalogStore`], on PostgreSQL or SQLite, through the shared plumbing.

use super::*;

/// The SQL adapter of [`CatalogStore`], on PostgreSQL or SQLite.
///
/// On SQLite the store also counts changes ([`CatalogStore::change_count`]): the file belongs
/// to one serving process (the embedded mode), so every change to a listing or a provider is
/// written by a store of this process, which counts it once its transaction has ended, before
/// the caller hears of it. A change another process writes to the file anyway is counted when
/// the outbox shows its row to the indexer, the moment the search index learns of it too. The
/// count is shared by every store of the process on the same file. On PostgreSQL, shared by
/// replicas that all write, there is no count.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// The URL it was opened from: leases are taken on the same database.
    url: Arc<str>,
    backend: Backend,
    readers: Arc<Readers>,
    changes: Option<Arc<AtomicU64>>,
}

impl SqlStore {
    /// Connects by URL (`postgres://…` or `sqlite:…`) and applies the backend's migrations,
    /// through the shared plumbing; on SQLite readers run beside the one writer.
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqlStore, StoreError> {
        let settings = Settings {
            max_connections,
            sqlite_writers: SqliteWriters::Shared,
        };
        let (pool, backend) = welfare_storage::connect(
            url,
            settings,
            &sqlx::migrate!("migrations/postgres"),
            &sqlx::migrate!("migrations/sqlite"),
        )
        .await?;
        let changes = match backend {
            Backend::Postgres => None,
            Backend::Sqlite => Some(changes_of(url)),
        };
        Ok(SqlStore {
            pool,
            url: url.into(),
            backend,
            readers: Arc::new(Readers::new()),
            changes,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Counts a change to a listing or a provider when the returned guard drops.
    fn counting(&self) -> CountsChange<'_> {
        CountsChange(self.changes.as_deref())
    }

    /// Outbox rows as read back, counted as changes when there are any: rows another process
    /// may have written.
    fn outbox_entries(&self, rows: &[AnyRow]) -> Result<Vec<OutboxEntry>, StoreError> {
        let entries = rows
            .iter()
            .map(outbox_entry)
            .collect::<Result<Vec<_>, _>>()?;
        if let (Some(count), false) = (&self.changes, entries.is_empty()) {
            count.fetch_add(1, Ordering::SeqCst);
        }
        Ok(entries)
    }

    /// The connection pool, for operator queries and tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Writes a change's request and outbox rows in `tx`; a request id recorded meanwhile by
    /// a concurrent identical call is reported as [`StoreError::RequestRecorded`].
    async fn write_change(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        change: &Change,
    ) -> Result<(), StoreError> {
        let request = &change.request;
        let inserted = sqlx::query(
            "INSERT INTO requests (principal, request_id, method, request, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (principal, request_id) DO NOTHING",
        )
        .bind(&request.principal)
        .bind(&request.request_id)
        .bind(&request.method)
        .bind(&request.request)
        .bind(&request.response)
        .bind(request.created_at.unix_seconds())
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::RequestRecorded(request.request_id.clone()));
        }
        let event = &change.event;
        sqlx::query(
            "INSERT INTO outbox (topic, entity_id, kind, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.topic.code())
        .bind(&event.entity_id)
        .bind(&event.kind)
        .bind(&event.payload)
        .bind(request.created_at.unix_seconds())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl SqlStore {
    /// Inserts a provider at its version; a tax code already registered is refused.
    async fn insert_provider(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        provider: &ProviderRecord,
    ) -> Result<(), StoreError> {
        let (runts, comune) = provider_values(provider);
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO providers ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(provider.id.as_str())
        .bind(&provider.display_name)
        .bind(provider.kind.code())
        .bind(runts)
        .bind(comune)
        .bind(provider.tax_id.as_str())
        .bind(contact_text(provider.contact_email.as_ref()))
        .bind(contact_text(provider.contact_phone.as_ref()))
        .bind(contact_text(provider.website_url.as_ref()))
        .bind(provider.status.code())
        .bind(&provider.state_reason)
        .bind(&provider.registered_by)
        .bind(provider.version)
        .bind(provider.created_at.unix_seconds())
        .bind(provider.updated_at.unix_seconds())
        .execute(&mut **tx)
        .await;
        match inserted {
            Err(error) if is_unique_violation(&error, "tax_code") => Err(StoreError::TaxCodeTaken(
                provider.tax_id.as_str().to_owned(),
            )),
            other => {
                other?;
                Ok(())
            }
        }
    }

    /// Inserts a listing at its version, its content already encoded.
    async fn insert_listing(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        listing: &ListingRecord,
        content: String,
    ) -> Result<(), StoreError> {
        let l = &listing.listing;
        sqlx::query(
            "INSERT INTO listings (id, provider_id, status, state_reason, category, subcategory, \
             title, content, verified_at, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(l.id.as_str())
        .bind(l.provider_id.as_str())
        .bind(l.status.code())
        .bind(status_reason(&l.status))
        .bind(l.content.category.code())
        .bind(&l.content.subcategory)
        .bind(&l.content.title)
        .bind(content)
        .bind(l.verified_at.map(Timestamp::unix_seconds))
        .bind(listing.version)
        .bind(listing.created_at.unix_seconds())
        .bind(listing.updated_at.unix_seconds())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// A value bound to a statement built at run time.
enum Bind {
    Text(String),
    Int(i64),
}

impl CatalogStore for SqlStore {
    #[tracing::instrument(name = "catalog.store.recorded_request", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn recorded_request(
        &self,
        principal: &str,
        request_id: &str,
    ) -> Result<Option<RecordedRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT principal, request_id, method, request, response, created_at \
             FROM requests WHERE principal = $1 AND request_id = $2",
        )
        .bind(principal)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(RecordedRequest {
                principal: row.try_get("principal")?,
                request_id: row.try_get("request_id")?,
                method: row.try_get("method")?,
                request: row.try_get("request")?,
                response: row.try_get("response")?,
                created_at: Timestamp::from_unix_seconds(row.try_get("created_at")?),
            })
        })
        .transpose()
    }

    #[tracing::instrument(name = "catalog.store.create_provider", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn create_provider(
        &self,
        provider: &ProviderRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        SqlStore::insert_provider(&mut tx, provider).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.update_provider", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn update_provider(
        &self,
        provider: &ProviderRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        let (runts, comune) = provider_values(provider);
        let updated = sqlx::query(
            "UPDATE providers SET display_name = $2, kind = $3, runts_number = $4, \
             comune_istat_code = $5, contact_email = $6, contact_phone = $7, website_url = $8, \
             status = $9, state_reason = $10, version = $11, updated_at = $12, tax_code = $14 \
             WHERE id = $1 AND version = $13",
        )
        .bind(provider.id.as_str())
        .bind(&provider.display_name)
        .bind(provider.kind.code())
        .bind(runts)
        .bind(comune)
        .bind(contact_text(provider.contact_email.as_ref()))
        .bind(contact_text(provider.contact_phone.as_ref()))
        .bind(contact_text(provider.website_url.as_ref()))
        .bind(provider.status.code())
        .bind(&provider.state_reason)
        .bind(provider.version)
        .bind(provider.updated_at.unix_seconds())
        .bind(provider.version - 1)
        .bind(provider.tax_id.as_str())
        .execute(&mut *tx)
        .await;
        let updated = match updated {
            Err(error) if is_unique_violation(&error, "tax_code") => {
                return Err(StoreError::TaxCodeTaken(
                    provider.tax_id.as_str().to_owned(),
                ));
            }
            other => other?,
        };
        if updated.rows_affected() != 1 {
            return Err(StoreError::VersionConflict {
                entity: "provider",
                id: provider.id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.provider", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn provider(&self, id: &ProviderId) -> Result<Option<ProviderRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM providers WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| ProviderRow::read(&row)?.into_record())
            .transpose()
    }

    #[tracing::instrument(name = "catalog.store.providers", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn providers(&self, query: &ProviderQuery) -> Result<Vec<ProviderRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM providers \
             WHERE ($1 = '' OR status = $1) AND id > $2 ORDER BY id LIMIT $3"
        )))
        .bind(query.status.map_or("", ProviderStatus::code))
        .bind(query.after_id.as_deref().unwrap_or(""))
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| ProviderRow::read(row)?.into_record())
            .collect()
    }

    #[tracing::instrument(name = "catalog.store.create_listing", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn create_listing(
        &self,
        listing: &ListingRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let content = content_json(listing)?;
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        SqlStore::insert_listing(&mut tx, listing, content).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.import", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn import(
        &self,
        providers: &[(ProviderRecord, Change)],
        listings: &[(ListingRecord, Change)],
    ) -> Result<(), StoreError> {
        let contents = listings
            .iter()
            .map(|(listing, _)| content_json(listing))
            .collect::<Result<Vec<_>, _>>()?;
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        for (provider, change) in providers {
            SqlStore::write_change(&mut tx, change).await?;
            SqlStore::insert_provider(&mut tx, provider).await?;
        }
        for ((listing, change), content) in listings.iter().zip(contents) {
            SqlStore::write_change(&mut tx, change).await?;
            SqlStore::insert_listing(&mut tx, listing, content).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.update_listing", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn update_listing(
        &self,
        listing: &ListingRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let content = content_json(listing)?;
        let l = &listing.listing;
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        let updated = sqlx::query(
            "UPDATE listings SET status = $2, state_reason = $3, category = $4, \
             subcategory = $5, title = $6, content = $7, verified_at = $8, version = $9, \
             updated_at = $10 WHERE id = $1 AND version = $11",
        )
        .bind(l.id.as_str())
        .bind(l.status.code())
        .bind(status_reason(&l.status))
        .bind(l.content.category.code())
        .bind(&l.content.subcategory)
        .bind(&l.content.title)
        .bind(content)
        .bind(l.verified_at.map(Timestamp::unix_seconds))
        .bind(listing.version)
        .bind(listing.updated_at.unix_seconds())
        .bind(listing.version - 1)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::VersionConflict {
                entity: "listing",
                id: l.id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.listings_by_id", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn listings_by_id(&self, wanted: &[Wanted]) -> Result<Vec<Fetched>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // The content, the one large column, only of the rows whose version the caller lacks.
        let values: Vec<String> = (0..wanted.len())
            .map(|i| format!("(${}, CAST(${} AS BIGINT))", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "WITH wanted (id, held) AS (VALUES {}) \
             SELECT l.id, l.provider_id, l.status, l.state_reason, \
             CASE WHEN l.version = w.held THEN NULL ELSE l.content END AS content, \
             l.verified_at, l.version, l.created_at, l.updated_at, \
             p.status AS provider_status \
             FROM wanted w JOIN listings l ON l.id = w.id \
             JOIN providers p ON p.id = l.provider_id",
            values.join(", ")
        );
        let statement = || {
            let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for listing in wanted {
                statement = statement
                    .bind(listing.id.as_str())
                    .bind(listing.held_version);
            }
            statement
        };
        let mut reader = self.readers.take(&self.pool, true).await?;
        let rows = match statement().fetch_all(&mut reader.connection).await {
            Ok(rows) => {
                reader.give_back();
                rows
            }
            // A connection left idle may have been closed by the server meanwhile.
            Err(_) if reader.reused => {
                drop(reader);
                let mut reader = self.readers.take(&self.pool, false).await?;
                let rows = statement().fetch_all(&mut reader.connection).await?;
                reader.give_back();
                rows
            }
            Err(error) => return Err(error.into()),
        };
        rows.iter().map(fetched).collect()
    }

    #[tracing::instrument(name = "catalog.store.listing", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn listing(
        &self,
        id: &ListingId,
    ) -> Result<Option<(ListingRecord, ProviderStatus)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LISTING_COLUMNS}, p.status AS provider_status \
             FROM listings l JOIN providers p ON p.id = l.provider_id WHERE l.id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(listing_with_status).transpose()
    }

    #[tracing::instrument(name = "catalog.store.listings", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn listings(&self, query: &ListingQuery) -> Result<Vec<ListingRecord>, StoreError> {
        // Only the conditions the query needs, so the planner can use the index that fits
        // (by category, provider or status, each ending in the id the pages are keyed on).
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        let mut bind = |value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(after) = &query.after_id {
            conditions.push(format!("l.id > {}", bind(Bind::Text(after.clone()))));
        }
        if let Some(provider) = &query.provider_id {
            conditions.push(format!(
                "l.provider_id = {}",
                bind(Bind::Text(provider.to_string()))
            ));
        }
        if let Some(status) = query.status {
            conditions.push(format!(
                "l.status = {}",
                bind(Bind::Text(status.to_owned()))
            ));
        }
        if let Some(category) = query.category {
            conditions.push(format!(
                "l.category = {}",
                bind(Bind::Text(category.code().to_owned()))
            ));
        }
        match query.visibility {
            Visibility::All => {}
            Visibility::Public { fresh_since } => conditions.push(format!(
                "l.status = 'published' AND p.status = 'approved' AND l.verified_at >= {}",
                bind(Bind::Int(fresh_since.unix_seconds()))
            )),
            Visibility::Stale { fresh_since } => conditions.push(format!(
                "l.status = 'published' AND (l.verified_at IS NULL OR l.verified_at < {})",
                bind(Bind::Int(fresh_since.unix_seconds()))
            )),
        }
        let limit = bind(Bind::Int(query.limit));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM listings l JOIN providers p ON p.id = l.provider_id \
             {filter} ORDER BY l.id LIMIT {limit}"
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in binds {
            statement = match value {
                Bind::Text(text) => statement.bind(text),
                Bind::Int(number) => statement.bind(number),
            };
        }
        let rows = statement.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| ListingRow::read(row)?.into_record())
            .collect()
    }

    fn change_count(&self) -> Option<u64> {
        self.changes
            .as_ref()
            .map(|count| count.load(Ordering::SeqCst))
    }

    #[tracing::instrument(name = "catalog.store.outbox_position", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn outbox_position(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS position FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("position")?)
    }

    #[tracing::instrument(name = "catalog.store.outbox_rows", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn outbox_rows(&self, seqs: &[i64]) -> Result<Vec<OutboxEntry>, StoreError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=seqs.len()).map(|i| format!("${i}")).collect();
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, topic, entity_id, kind, payload, created_at FROM outbox \
             WHERE seq IN ({}) ORDER BY seq",
            placeholders.join(", ")
        )));
        for seq in seqs {
            statement = statement.bind(*seq);
        }
        let rows = statement.fetch_all(&self.pool).await?;
        self.outbox_entries(&rows)
    }

    #[tracing::instrument(name = "catalog.store.outbox", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn outbox(&self, after_seq: i64, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, topic, entity_id, kind, payload, created_at FROM outbox \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.outbox_entries(&rows)
    }

    #[tracing::instrument(name = "catalog.store.prune_requests", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn prune_requests(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let pruned = sqlx::query(
            "DELETE FROM requests WHERE (principal, request_id) IN \
             (SELECT principal, request_id FROM requests WHERE created_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }

    #[tracing::instrument(name = "catalog.store.prune_outbox", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn prune_outbox(
        &self,
        through_seq: i64,
        created_before: i64,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let pruned = sqlx::query(
            "DELETE FROM outbox WHERE seq IN \
             (SELECT seq FROM outbox WHERE seq <= $1 AND created_at < $2 \
              AND seq < (SELECT MAX(seq) FROM outbox) ORDER BY seq LIMIT $3)",
        )
        .bind(through_seq)
        .bind(created_before)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }

    async fn lease(&self, name: &str) -> Result<Option<welfare_storage::lease::Lease>, StoreError> {
        Ok(welfare_storage::lease::Lease::try_acquire(&self.pool, &self.url, name).await?)
    }

    #[tracing::instrument(name = "catalog.store.consumer", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn consumer(&self, name: &str) -> Result<Option<ConsumerRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT consumer, position, gaps, stamp, kind, updated_at FROM outbox_consumers \
             WHERE consumer = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(consumer_record).transpose()
    }

    #[tracing::instrument(name = "catalog.store.consumers", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn consumers(&self) -> Result<Vec<ConsumerRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT consumer, position, gaps, stamp, kind, updated_at FROM outbox_consumers \
             ORDER BY consumer",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consumer_record).collect()
    }

    #[tracing::instrument(name = "catalog.store.put_consumer", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn put_consumer(&self, consumer: &ConsumerRecord) -> Result<(), StoreError> {
        let gaps =
            serde_json::to_string(&consumer.cursor.gaps).map_err(|e| StoreError::Corrupt {
                entity: "outbox consumer",
                id: consumer.name.clone(),
                problem: format!("gaps: {e}"),
            })?;
        sqlx::query(
            "INSERT INTO outbox_consumers (consumer, position, gaps, stamp, kind, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer) DO UPDATE SET \
             position = excluded.position, gaps = excluded.gaps, stamp = excluded.stamp, \
             kind = excluded.kind, updated_at = excluded.updated_at",
        )
        .bind(&consumer.name)
        .bind(consumer.cursor.position)
        .bind(gaps)
        .bind(&consumer.stamp)
        .bind(consumer.kind.code())
        .bind(consumer.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.forget_replicas", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn forget_replicas(&self, silent_since: i64) -> Result<u64, StoreError> {
        let forgotten =
            sqlx::query("DELETE FROM outbox_consumers WHERE kind = 'replica' AND updated_at < $1")
                .bind(silent_since)
                .execute(&self.pool)
                .await?;
        Ok(forgotten.rows_affected())
    }

    #[tracing::instrument(name = "catalog.store.backlog", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn backlog(&self, fresh_since: i64) -> Result<Backlog, StoreError> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM providers WHERE status = 'pending') AS providers, \
             (SELECT COUNT(*) FROM listings WHERE status = 'submitted') AS listings, \
             (SELECT COUNT(*) FROM listings WHERE status = 'published' \
              AND (verified_at IS NULL OR verified_at < $1)) AS stale",
        )
        .bind(fresh_since)
        .fetch_one(&self.pool)
        .await?;
        let count = |column: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(column)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(Backlog {
            providers_awaiting: count("providers")?,
            listings_awaiting: count("listings")?,
            stale_listings: count("stale")?,
        })
    }

    #[tracing::instrument(name = "catalog.store.local_words", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn local_words(&self) -> Result<Vec<LocalWordRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT phrase, kind, code, updated_by, version, created_at, updated_at \
             FROM local_words ORDER BY phrase",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(local_word_record).collect()
    }

    #[tracing::instrument(name = "catalog.store.put_local_word", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn put_local_word(
        &self,
        word: &LocalWordRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The request row first, as for every change.
        SqlStore::write_change(&mut tx, change).await?;
        let meaning = word.word.meaning;
        let written = if word.version == 1 {
            sqlx::query(
                "INSERT INTO local_words \
                 (phrase, kind, code, updated_by, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 1, $5, $6) ON CONFLICT (phrase) DO NOTHING",
            )
            .bind(&word.word.phrase)
            .bind(meaning.kind())
            .bind(meaning.code())
            .bind(&word.updated_by)
            .bind(word.created_at.unix_seconds())
            .bind(word.updated_at.unix_seconds())
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE local_words SET kind = $2, code = $3, updated_by = $4, version = $5, \
                 updated_at = $6 WHERE phrase = $1 AND version = $7",
            )
            .bind(&word.word.phrase)
            .bind(meaning.kind())
            .bind(meaning.code())
            .bind(&word.updated_by)
            .bind(word.version)
            .bind(word.updated_at.unix_seconds())
            .bind(word.version - 1)
            .execute(&mut *tx)
            .await?
        };
        if written.rows_affected() != 1 {
            return Err(StoreError::VersionConflict {
                entity: "local word",
                id: word.word.phrase.clone(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "catalog.store.delete_local_word", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    async fn delete_local_word(
        &self,
        phrase: &str,
        version: i64,
        change: &Change,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        SqlStore::write_change(&mut tx, change).await?;
        let deleted = sqlx::query("DELETE FROM local_words WHERE phrase = $1 AND version = $2")
            .bind(phrase)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Err(StoreError::VersionConflict {
                entity: "local word",
                id: phrase.to_owned(),
            });
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_on_one_file_share_a_count_and_in_memory_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("lodiwelfare-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("catalog.db");
        std::fs::write(&file, b"").expect("file");
        let first = changes_of(&format!("sqlite://{}?mode=rwc", file.display()));
        let second = changes_of(&format!(
            "sqlite:{}",
            dir.join(".").join("catalog.db").display()
        ));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(
            &changes_of("sqlite::memory:"),
            &changes_of("sqlite::memory:")
        ));
        drop((first, second));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
