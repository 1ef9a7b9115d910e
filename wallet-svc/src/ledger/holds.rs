//! Placing a hold: the wallet's pending balance and, on art. 51 c.3 plans, the employee's
//! fringe-benefit ceiling, both conditional single-row updates; on PostgreSQL one call of
//! `ledger_hold`.

use std::fmt::Write as _;

use sqlx::Row;
use welfare_core::Money;

use super::{
    Backend, FringeCharge, Hold, Ledger, LedgerError, NewHold, Outcome, PROVIDER_PAYABLES, Prior,
    TransferRow, check_amount, check_id, check_key, clamped, money, raised, wallet_account,
};

impl Ledger {
    /// Places a pending hold: refused, changing nothing, when the wallet lacks the funds.
    #[tracing::instrument(name = "wallet.ledger.hold", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn hold(&self, hold: &NewHold, now: i64) -> Result<Outcome<Hold>, LedgerError> {
        crate::metrics::recorded(self.place(hold, now).await)
    }

    async fn place(&self, hold: &NewHold, now: i64) -> Result<Outcome<Hold>, LedgerError> {
        check_id("hold_id", &hold.id)?;
        check_key(&hold.key)?;
        check_amount("amount", hold.amount)?;
        if hold.expires_at <= now {
            return Err(LedgerError::Invalid {
                field: "expire_time",
                problem: "must be in the future".to_owned(),
            });
        }
        let mut fingerprint = String::new();
        let _ = write!(
            fingerprint,
            "hold|{}|{}|{}|{}|{}|{}",
            hold.wallet_id,
            hold.amount.cents(),
            hold.expires_at,
            hold.category,
            hold.tax_letter,
            hold.booking_id.as_deref().unwrap_or_default()
        );
        // Holds placed before providers were recorded keep their fingerprints.
        if let Some(provider) = &hold.provider_id {
            let _ = write!(fingerprint, "|{provider}");
        }
        if self.backend == Backend::Postgres {
            return self.hold_postgres(hold, &fingerprint, now).await;
        }
        let mut tx = self.pool.begin().await?;
        if let Prior::Retry(existing) = Ledger::prior(&mut tx, &hold.key, &fingerprint).await? {
            tx.rollback().await?;
            return self.get_hold(&existing).await.map(Outcome::Existing);
        }
        let updated = sqlx::query(
            "UPDATE wallets SET debits_pending = debits_pending + $1 \
             WHERE id = $2 AND credits_posted - debits_posted - debits_pending >= $1",
        )
        .bind(hold.amount.cents())
        .bind(&hold.wallet_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            let balance = self.balance(&hold.wallet_id).await?;
            return Err(LedgerError::InsufficientFunds {
                available: balance.available(),
                requested: hold.amount,
            });
        }
        if let Some(fringe) = hold.fringe
            && let Err(error) =
                Ledger::charge_fringe(&mut tx, &hold.wallet_id, fringe, hold.amount).await
        {
            tx.rollback().await?;
            return Err(error);
        }
        let debit = wallet_account(&hold.wallet_id);
        let row = TransferRow {
            id: &hold.id,
            key: &hold.key,
            kind: "hold",
            debit: &debit,
            credit: PROVIDER_PAYABLES,
            amount: hold.amount,
            hold_id: Some(&hold.id),
            fingerprint: &fingerprint,
            now,
        };
        if !Ledger::insert_transfer(&mut tx, &row).await? {
            tx.rollback().await?;
            let existing = self.winner(&hold.key, &fingerprint).await?;
            return self.get_hold(&existing).await.map(Outcome::Existing);
        }
        sqlx::query(
            "INSERT INTO holds (id, wallet_id, amount, state, expires_at, category, tax_letter, booking_id, fringe_year, provider_id) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9)",
        )
        .bind(&hold.id)
        .bind(&hold.wallet_id)
        .bind(hold.amount.cents())
        .bind(hold.expires_at)
        .bind(&hold.category)
        .bind(&hold.tax_letter)
        .bind(hold.booking_id.as_deref())
        .bind(hold.fringe.map(|f| f.year))
        .bind(hold.provider_id.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Outcome::Created(hold.placed()))
    }

    /// [`Ledger::hold`] on PostgreSQL: one call of `ledger_hold`.
    async fn hold_postgres(
        &self,
        hold: &NewHold,
        fingerprint: &str,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        let answer: Result<String, sqlx::Error> = sqlx::query_scalar(
            "SELECT ledger_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&hold.id)
        .bind(&hold.key)
        .bind(&hold.wallet_id)
        .bind(hold.amount.cents())
        .bind(hold.expires_at)
        .bind(&hold.category)
        .bind(&hold.tax_letter)
        .bind(hold.booking_id.as_deref())
        .bind(hold.fringe.map(|f| f.year))
        .bind(hold.fringe.map(|f| f.ceiling.cents()))
        .bind(fingerprint)
        .bind(now)
        .bind(hold.provider_id.as_deref())
        .fetch_one(&self.pool)
        .await;
        match answer {
            Ok(answer) if answer == "created" => Ok(Outcome::Created(hold.placed())),
            Ok(answer) => match answer.strip_prefix("existing:") {
                Some(existing) => self.get_hold(existing).await.map(Outcome::Existing),
                None => Err(LedgerError::IdReused(hold.key.clone())),
            },
            Err(error) => match raised(&error) {
                Some("raced") => {
                    let existing = self.winner(&hold.key, fingerprint).await?;
                    self.get_hold(&existing).await.map(Outcome::Existing)
                }
                Some("insufficient_funds") => {
                    let balance = self.balance(&hold.wallet_id).await?;
                    Err(LedgerError::InsufficientFunds {
                        available: balance.available(),
                        requested: hold.amount,
                    })
                }
                Some("fringe_ceiling") => {
                    let fringe = hold.fringe.ok_or_else(|| LedgerError::Database(error))?;
                    let used: Option<i64> = sqlx::query_scalar(
                        "SELECT f.used_cents FROM fringe_usage f JOIN wallets w ON w.employee_id = f.employee_id \
                         AND w.company_id = f.company_id WHERE w.id = $1 AND f.year = $2",
                    )
                    .bind(&hold.wallet_id)
                    .bind(fringe.year)
                    .fetch_optional(&self.pool)
                    .await?;
                    Err(LedgerError::FringeCeiling {
                        ceiling: fringe.ceiling,
                        used: clamped(used.unwrap_or(0)),
                        requested: hold.amount,
                    })
                }
                _ => Err(LedgerError::Database(error)),
            },
        }
    }

    /// Counts `amount` against the wallet owner's fringe-benefit ceiling with its employer for
    /// the year; refused when it would cross the ceiling (the whole amount would be taxable).
    async fn charge_fringe(
        connection: &mut sqlx::AnyConnection,
        wallet_id: &str,
        fringe: FringeCharge,
        amount: Money,
    ) -> Result<(), LedgerError> {
        let owner = sqlx::query("SELECT employee_id, company_id FROM wallets WHERE id = $1")
            .bind(wallet_id)
            .fetch_one(&mut *connection)
            .await?;
        let employee: String = owner.try_get("employee_id")?;
        let company: String = owner.try_get("company_id")?;
        sqlx::query(
            "INSERT INTO fringe_usage (employee_id, company_id, year, ceiling_cents) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&employee)
        .bind(&company)
        .bind(fringe.year)
        .bind(fringe.ceiling.cents())
        .execute(&mut *connection)
        .await?;
        let charged = sqlx::query(
            "UPDATE fringe_usage SET used_cents = used_cents + $1 \
             WHERE employee_id = $2 AND company_id = $3 AND year = $4 AND used_cents + $1 <= ceiling_cents",
        )
        .bind(amount.cents())
        .bind(&employee)
        .bind(&company)
        .bind(fringe.year)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if charged == 1 {
            return Ok(());
        }
        let row = sqlx::query("SELECT used_cents, ceiling_cents FROM fringe_usage WHERE employee_id = $1 AND company_id = $2 AND year = $3")
            .bind(&employee)
            .bind(&company)
            .bind(fringe.year)
            .fetch_one(&mut *connection)
            .await?;
        Err(LedgerError::FringeCeiling {
            ceiling: money(&row, "ceiling_cents")?,
            used: money(&row, "used_cents")?,
            requested: amount,
        })
    }

    /// Gives back `amount` of a hold's charge against the fringe-benefit ceiling.
    pub(super) async fn uncharge_fringe(
        connection: &mut sqlx::AnyConnection,
        hold_id: &str,
        amount: Money,
    ) -> Result<(), LedgerError> {
        if !amount.is_positive() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE fringe_usage SET used_cents = used_cents - $1 \
             WHERE (employee_id, company_id, year) IN ( \
               SELECT w.employee_id, w.company_id, h.fringe_year FROM holds h JOIN wallets w ON w.id = h.wallet_id \
               WHERE h.id = $2 AND h.fringe_year IS NOT NULL)",
        )
        .bind(amount.cents())
        .bind(hold_id)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }
}
