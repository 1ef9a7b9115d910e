//! Year end: a plan's wallets settled by its rule (carried over or returned to the company)
//! once the plan has expired by the server's date, and credit given back later settled the
//! same way.

use sqlx::Row;
use welfare_core::Money;
use welfare_core::time::Date;
use welfare_core::wallet::settle_year_end_after;
use welfare_runtime::uuid::new_uuid;

use super::{MAX_SETTLEMENT_WALLETS, Plan, Settlement};
use crate::ledger::{
    Backend, Ledger, LedgerError, balance_from_row, clamped, company_account, idempotency_key,
    wallet_account,
};

impl Ledger {
    /// Year end for a plan, once the plan has expired by `today` (the server's date, never a
    /// caller's): marks it settled (with `next_plan`, which receives carried-over credit), then
    /// settles each wallet's available balance by the plan's rule (see
    /// [`Ledger::settle_wallet`]). Pending holds stay pending: the provider may still be paid
    /// from them, and whatever they give back later is settled by the same rule at once.
    /// Settling again moves only credit found since; it never moves anything twice.
    pub async fn settle_plan(
        &self,
        plan: &Plan,
        next_plan: Option<&Plan>,
        today: Date,
        now: i64,
    ) -> Result<Settlement, LedgerError> {
        if !plan.rules.is_expired(today) {
            return Err(LedgerError::PlanNotExpired {
                plan_id: plan.id.clone(),
                expires_on: plan.rules.expires_on(),
            });
        }
        let next_id = next_plan.map(|next| next.id.as_str());
        // Marked first, so a hold released while the wallets are being settled settles its
        // own credit.
        let marked = sqlx::query(
            "UPDATE plans SET settled = 1, next_plan_id = $2 WHERE id = $1 \
             AND (settled = 0 OR next_plan_id IS NULL AND $2 IS NULL OR next_plan_id = $2)",
        )
        .bind(&plan.id)
        .bind(next_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if marked == 0 {
            let earlier: Option<String> =
                sqlx::query_scalar("SELECT next_plan_id FROM plans WHERE id = $1")
                    .bind(&plan.id)
                    .fetch_one(self.pool())
                    .await?;
            return Err(LedgerError::Invalid {
                field: "next_plan_id",
                problem: format!(
                    "the plan was already settled into {}",
                    earlier.as_deref().unwrap_or("no plan")
                ),
            });
        }
        let mut settlement = Settlement::default();
        let wallets: Vec<String> =
            sqlx::query_scalar("SELECT id FROM wallets WHERE plan_id = $1 ORDER BY id LIMIT $2")
                .bind(&plan.id)
                .bind(MAX_SETTLEMENT_WALLETS)
                .fetch_all(self.pool())
                .await?;
        for wallet in wallets {
            let (carried, returned) = self.settle_wallet(&wallet, plan, next_plan, now).await?;
            settlement.carried_over = settlement.carried_over.saturating_add(carried);
            settlement.returned = settlement.returned.saturating_add(returned);
            settlement.wallets_settled += 1;
        }
        settlement.holds_pending = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM holds h JOIN wallets w ON w.id = h.wallet_id \
             WHERE w.plan_id = $1 AND h.state = 'pending'",
        )
        .bind(&plan.id)
        .fetch_one(self.pool())
        .await?;
        Ok(settlement)
    }

    /// Settles a wallet of a settled plan: its available balance is carried over to the
    /// employee's wallet in `next_plan` (where the plan carries over, up to its maximum less
    /// what was carried before) and the rest returned to the company. One transaction under
    /// the wallet's lock, so concurrent settlements of one wallet move its credit once.
    /// Returns the cents carried over and returned.
    pub async fn settle_wallet(
        &self,
        wallet_id: &str,
        plan: &Plan,
        next_plan: Option<&Plan>,
        now: i64,
    ) -> Result<(i64, i64), LedgerError> {
        let mut tx = self.pool().begin().await?;
        let lock = match self.backend() {
            Backend::Postgres => {
                "SELECT employee_id, credits_posted, debits_posted, debits_pending FROM wallets WHERE id = $1 FOR UPDATE"
            }
            // One connection: the transaction alone writes.
            Backend::Sqlite => {
                "SELECT employee_id, credits_posted, debits_posted, debits_pending FROM wallets WHERE id = $1"
            }
        };
        let row = sqlx::query(lock)
            .bind(wallet_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| LedgerError::WalletNotFound(wallet_id.to_owned()))?;
        let employee: String = row.try_get("employee_id")?;
        let available = balance_from_row(&row)?.available();
        if !available.is_positive() {
            tx.rollback().await?;
            return Ok((0, 0));
        }
        let account = wallet_account(wallet_id);
        let carried_before: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM transfers WHERE debit_account = $1 AND kind = 'carry_over'",
        )
        .bind(&account)
        .fetch_one(&mut *tx)
        .await?;
        let split = settle_year_end_after(&plan.rules, available, clamped(carried_before));
        let carry = if next_plan.is_some() {
            split.carried_over
        } else {
            Money::ZERO
        };
        let returned = available.checked_sub(carry).unwrap_or(Money::ZERO);
        sqlx::query("UPDATE wallets SET debits_posted = debits_posted + $1 WHERE id = $2")
            .bind(available.cents())
            .bind(wallet_id)
            .execute(&mut *tx)
            .await?;
        if carry.is_positive()
            && let Some(next) = next_plan
        {
            let target = super::wallet_id(&next.id, &employee);
            sqlx::query(
                "INSERT INTO wallets (id, company_id, plan_id, employee_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&target)
            .bind(&next.company_id)
            .bind(&next.id)
            .bind(&employee)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE wallets SET credits_posted = credits_posted + $1 WHERE id = $2")
                .bind(carry.cents())
                .bind(&target)
                .execute(&mut *tx)
                .await?;
            self.settlement_transfer(
                &mut tx,
                "carry_over",
                &account,
                &wallet_account(&target),
                carry,
                now,
            )
            .await?;
        }
        if returned.is_positive() {
            let company = company_account(&plan.company_id, &plan.id);
            self.settlement_transfer(&mut tx, "return", &account, &company, returned, now)
                .await?;
        }
        tx.commit().await?;
        Ok((carry.cents(), returned.cents()))
    }

    /// Writes one transfer of a wallet's settlement. Settlements are idempotent by the
    /// wallet's state (they move what is available, under its lock), so each transfer's key
    /// is its own id.
    async fn settlement_transfer(
        &self,
        connection: &mut sqlx::AnyConnection,
        kind: &str,
        debit: &str,
        credit: &str,
        amount: Money,
        now: i64,
    ) -> Result<(), LedgerError> {
        let id = new_uuid();
        sqlx::query(
            "INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)",
        )
        .bind(&id)
        .bind(idempotency_key(&["settle", &id]))
        .bind(kind)
        .bind(debit)
        .bind(credit)
        .bind(amount.cents())
        .bind(format!("{kind}|{debit}|{credit}|{}", amount.cents()))
        .bind(now)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// Settles a wallet if its plan was already settled: credit a hold gave back (or a refund
    /// returned) after the year end follows the plan's rule, instead of lingering in a wallet
    /// nobody can spend from. Returns whether the plan was settled.
    pub async fn settle_if_lapsed(&self, wallet_id: &str, now: i64) -> Result<bool, LedgerError> {
        let row = sqlx::query(
            "SELECT p.id AS plan_id, p.settled AS settled, p.next_plan_id AS next_plan_id \
             FROM wallets w JOIN plans p ON p.id = w.plan_id WHERE w.id = $1",
        )
        .bind(wallet_id)
        .fetch_optional(self.pool())
        .await?;
        // A wallet without a plan row (the ledger's own tests open such wallets) has no rule.
        let Some(row) = row else {
            return Ok(false);
        };
        let settled: i64 = row.try_get("settled")?;
        if settled == 0 {
            return Ok(false);
        }
        let plan = self.get_plan(&row.try_get::<String, _>("plan_id")?).await?;
        let next = match row.try_get::<Option<String>, _>("next_plan_id")? {
            Some(next) => Some(self.get_plan(&next).await?),
            None => None,
        };
        self.settle_wallet(wallet_id, &plan, next.as_ref(), now)
            .await?;
        Ok(true)
    }

    /// Settles up to [`MAX_SETTLEMENT_WALLETS`] wallets of settled plans that hold available
    /// credit given back after their settlement (by holds the sweep expired, or where a
    /// release's own settlement failed); `expire_due` and the sweeper call it. Returns how
    /// many it settled.
    pub async fn settle_lapsed(&self, now: i64) -> Result<usize, LedgerError> {
        let wallets: Vec<String> = sqlx::query_scalar(
            "SELECT w.id FROM wallets w JOIN plans p ON p.id = w.plan_id \
             WHERE p.settled = 1 AND w.credits_posted - w.debits_posted - w.debits_pending > 0 \
             ORDER BY w.id LIMIT $1",
        )
        .bind(MAX_SETTLEMENT_WALLETS)
        .fetch_all(self.pool())
        .await?;
        let mut settled = 0;
        for wallet in wallets {
            settled += usize::from(self.settle_if_lapsed(&wallet, now).await?);
        }
        Ok(settled)
    }
}
