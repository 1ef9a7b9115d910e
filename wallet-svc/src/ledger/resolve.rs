//! Resolving a hold, at most once whatever the concurrency: captured in full or in part (the
//! rest released), released, or expired by the sweeper after its deadline; on PostgreSQL one
//! call of `ledger_resolve`. Credit a hold gives back to a wallet whose plan was already
//! settled follows the plan's year-end rule at once.

use welfare_core::Money;
use welfare_runtime::uuid::new_uuid;

use super::{
    Backend, Hold, HoldState, Ledger, LedgerError, MAX_EXPIRY_BATCH, Outcome, PROVIDER_PAYABLES,
    Prior, TransferRow, check_amount, check_key, idempotency_key, raised, wallet_account,
};

/// The arguments of one hold resolution, for the PostgreSQL function.
struct ResolveCall<'a> {
    key: &'a str,
    kind: &'a str,
    amount: Money,
    state: HoldState,
    captured: Money,
    released: Money,
    fingerprint: &'a str,
    deadline: Deadline,
    now: i64,
}

/// Which side of its deadline a hold must be on to be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// Captures and releases: before the deadline.
    NotPassed,
    /// The sweeper's expiry: after it.
    Passed,
}

impl Ledger {
    /// [`Ledger::resolve`] on PostgreSQL: one call of `ledger_resolve`.
    async fn resolve_postgres(
        &self,
        current: &Hold,
        call: &ResolveCall<'_>,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let partial = call.state == HoldState::Captured && call.released.is_positive();
        let rest_id = partial.then(new_uuid);
        let rest_key = partial.then(|| idempotency_key(&["rest", call.key]));
        let rest_fingerprint = partial.then(|| format!("{}|rest", call.fingerprint));
        let deadline = match call.deadline {
            Deadline::NotPassed => "not_passed",
            Deadline::Passed => "passed",
        };
        let answer: Result<String, sqlx::Error> = sqlx::query_scalar(
            "SELECT ledger_resolve($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(new_uuid())
        .bind(call.key)
        .bind(call.kind)
        .bind(&current.id)
        .bind(&current.wallet_id)
        .bind(call.state.code())
        .bind(call.amount.cents())
        .bind(current.amount.cents())
        .bind(call.captured.cents())
        .bind(call.released.cents())
        .bind(deadline)
        .bind(call.fingerprint)
        .bind(rest_id.as_deref())
        .bind(rest_key.as_deref())
        .bind(rest_fingerprint.as_deref())
        .bind(call.now)
        .fetch_one(&self.pool)
        .await;
        match answer {
            Ok(answer) if answer == "created" => Ok(Outcome::Created(Hold {
                state: call.state,
                captured: call.captured,
                released: call.released,
                ..current.clone()
            })),
            Ok(answer) if answer == "existing" => {
                self.get_hold(&current.id).await.map(Outcome::Existing)
            }
            Ok(_) => Err(LedgerError::IdReused(call.key.to_owned())),
            Err(error) if matches!(raised(&error), Some("not_resolvable" | "raced")) => {
                self.unresolved(current, call.key, call.fingerprint, call.state)
                    .await
            }
            Err(error) => Err(LedgerError::Database(error)),
        }
    }

    /// Why a hold could not be resolved: a concurrent call with the same key did it (its
    /// answer, as a retry's), or the hold is no longer pending, or its deadline is on the wrong
    /// side.
    async fn unresolved(
        &self,
        current: &Hold,
        key: &str,
        fingerprint: &str,
        wanted: HoldState,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        if let Prior::Retry(_) = Ledger::prior(&mut connection, key, fingerprint).await? {
            drop(connection);
            return self.get_hold(&current.id).await.map(Outcome::Existing);
        }
        drop(connection);
        let latest = self.get_hold(&current.id).await?;
        Err(if latest.state != HoldState::Pending {
            LedgerError::HoldNotPending {
                id: latest.id,
                state: latest.state.code().to_owned(),
            }
        } else if wanted == HoldState::Expired {
            LedgerError::HoldNotPending {
                id: latest.id,
                state: "not yet due".to_owned(),
            }
        } else {
            LedgerError::HoldExpired(latest.id)
        })
    }

    /// Captures `amount` of a pending hold (the whole hold when `None`); the rest is released.
    #[tracing::instrument(name = "wallet.ledger.capture", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn capture(
        &self,
        key: &str,
        hold_id: &str,
        amount: Option<Money>,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let current = self.get_hold(hold_id).await?;
        self.capture_hold(key, &current, amount, now).await
    }

    /// [`Ledger::capture`] of a hold the caller has just read.
    #[tracing::instrument(name = "wallet.ledger.capture_hold", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn capture_hold(
        &self,
        key: &str,
        current: &Hold,
        amount: Option<Money>,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        check_key(key)?;
        if let Some(amount) = amount {
            check_amount("amount", amount)?;
        }
        let capture = amount.unwrap_or(current.amount);
        let fingerprint = format!("capture|{}|{}", current.id, capture.cents());
        crate::metrics::recorded(
            self.resolve(
                key,
                current,
                HoldState::Captured,
                capture,
                &fingerprint,
                now,
                Deadline::NotPassed,
            )
            .await,
        )
    }

    /// Releases a pending hold whole.
    #[tracing::instrument(name = "wallet.ledger.release", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn release(
        &self,
        key: &str,
        hold_id: &str,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let current = self.get_hold(hold_id).await?;
        self.release_hold(key, &current, now).await
    }

    /// [`Ledger::release`] of a hold the caller has just read.
    #[tracing::instrument(name = "wallet.ledger.release_hold", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn release_hold(
        &self,
        key: &str,
        current: &Hold,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        check_key(key)?;
        let fingerprint = format!("release|{}", current.id);
        crate::metrics::recorded(
            self.resolve(
                key,
                current,
                HoldState::Released,
                Money::ZERO,
                &fingerprint,
                now,
                Deadline::NotPassed,
            )
            .await,
        )
    }

    /// Moves a pending hold to `state`, capturing `captured` and releasing the rest, at most
    /// once whatever the concurrency: the hold's own row is updated only while pending. Credit
    /// given back to a wallet whose plan was already settled follows the plan's year-end rule
    /// at once (see [`Ledger::settle_wallet`]).
    #[allow(clippy::too_many_arguments)]
    async fn resolve(
        &self,
        key: &str,
        current: &Hold,
        state: HoldState,
        captured: Money,
        fingerprint: &str,
        now: i64,
        deadline: Deadline,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let outcome = self
            .resolve_hold(key, current, state, captured, fingerprint, now, deadline)
            .await?;
        if let Outcome::Created(hold) = &outcome
            && hold.released.is_positive()
            && let Err(error) = self.settle_if_lapsed(&hold.wallet_id, now).await
        {
            // The release stands; the sweeper settles the wallet at its next tick.
            tracing::warn!(%error, wallet = %hold.wallet_id, "settling released credit failed");
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn resolve_hold(
        &self,
        key: &str,
        current: &Hold,
        state: HoldState,
        captured: Money,
        fingerprint: &str,
        now: i64,
        deadline: Deadline,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let held = current.amount;
        let released = held
            .checked_sub(captured)
            .map_err(|_| LedgerError::CaptureExceedsHold {
                held,
                requested: captured,
            })?;
        if released.is_negative() {
            return Err(LedgerError::CaptureExceedsHold {
                held,
                requested: captured,
            });
        }
        let (kind, amount) = match state {
            HoldState::Captured => ("capture", captured),
            HoldState::Expired => ("expire", released),
            _ => ("release", released),
        };
        if self.backend == Backend::Postgres {
            let call = ResolveCall {
                key,
                kind,
                amount,
                state,
                captured,
                released,
                fingerprint,
                deadline,
                now,
            };
            return self.resolve_postgres(current, &call).await;
        }
        let mut tx = self.pool.begin().await?;
        if let Prior::Retry(_) = Ledger::prior(&mut tx, key, fingerprint).await? {
            tx.rollback().await?;
            return self.get_hold(&current.id).await.map(Outcome::Existing);
        }
        // Only a deliberate capture or release may happen before the deadline passes; only the
        // sweeper's expiry after it.
        let sql = match deadline {
            Deadline::Passed => {
                "UPDATE holds SET state = $1, captured = $2, released = $3 WHERE id = $4 AND state = 'pending' AND expires_at <= $5"
            }
            Deadline::NotPassed => {
                "UPDATE holds SET state = $1, captured = $2, released = $3 WHERE id = $4 AND state = 'pending' AND expires_at > $5"
            }
        };
        let updated = sqlx::query(sql)
            .bind(state.code())
            .bind(captured.cents())
            .bind(released.cents())
            .bind(&current.id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return self.unresolved(current, key, fingerprint, state).await;
        }
        sqlx::query("UPDATE wallets SET debits_pending = debits_pending - $1, debits_posted = debits_posted + $2 WHERE id = $3")
            .bind(held.cents())
            .bind(captured.cents())
            .bind(&current.wallet_id)
            .execute(&mut *tx)
            .await?;
        if current.fringe_year.is_some() {
            Ledger::uncharge_fringe(&mut tx, &current.id, released).await?;
        }
        let wallet = wallet_account(&current.wallet_id);
        let id = new_uuid();
        let row = TransferRow {
            id: &id,
            key,
            kind,
            debit: &wallet,
            credit: PROVIDER_PAYABLES,
            amount,
            hold_id: Some(&current.id),
            fingerprint,
            now,
        };
        if !Ledger::insert_transfer(&mut tx, &row).await? {
            tx.rollback().await?;
            return self.unresolved(current, key, fingerprint, state).await;
        }
        // A partial capture's remainder is its own statement line.
        if state == HoldState::Captured && released.is_positive() {
            let (rest_id, rest_key) = (new_uuid(), idempotency_key(&["rest", key]));
            let rest_print = format!("{fingerprint}|rest");
            let rest = TransferRow {
                id: &rest_id,
                key: &rest_key,
                kind: "release",
                debit: &wallet,
                credit: PROVIDER_PAYABLES,
                amount: released,
                hold_id: Some(&current.id),
                fingerprint: &rest_print,
                now,
            };
            Ledger::insert_transfer(&mut tx, &rest).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Created(Hold {
            state,
            captured,
            released,
            ..current.clone()
        }))
    }

    /// Expires up to [`MAX_EXPIRY_BATCH`] pending holds whose deadline has passed; returns how
    /// many it expired. Safe to run concurrently with captures and with other sweepers.
    #[tracing::instrument(name = "wallet.ledger.expire_due", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn expire_due(&self, now: i64) -> Result<usize, LedgerError> {
        let due: Vec<String> = sqlx::query_scalar("SELECT id FROM holds WHERE state = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2")
            .bind(now)
            .bind(MAX_EXPIRY_BATCH)
            .fetch_all(&self.pool)
            .await?;
        let mut expired = 0;
        for hold_id in due {
            expired += usize::from(self.expire_hold(&hold_id, now).await?);
        }
        // What the expired holds gave back to wallets of settled plans follows the plans'
        // rule: one sweep for the lot, not one look at each hold's plan.
        if expired > 0
            && let Err(error) = self.settle_lapsed(now).await
        {
            tracing::warn!(%error, "settling credit given back by expired holds failed");
        }
        Ok(expired)
    }

    /// Expires a pending hold past its deadline; `false` when it was no longer pending
    /// (captured or released meanwhile, or already expired by another sweeper).
    async fn expire_hold(&self, hold_id: &str, now: i64) -> Result<bool, LedgerError> {
        let current = self.get_hold(hold_id).await?;
        // Derived from the hold, so concurrent sweepers write the same transfer at most once.
        let key = idempotency_key(&["expire", hold_id]);
        let fingerprint = format!("expire|{hold_id}");
        // `expire_due` settles what the sweep gave back, once for all its holds.
        let expired = self
            .resolve_hold(
                &key,
                &current,
                HoldState::Expired,
                Money::ZERO,
                &fingerprint,
                now,
                Deadline::Passed,
            )
            .await;
        match crate::metrics::recorded(expired) {
            Ok(outcome) => Ok(outcome.is_created()),
            Err(LedgerError::HoldNotPending { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }
}
