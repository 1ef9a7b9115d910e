//! Company plans and what the service does with them on top of the ledger: funding batches,
//! wallet views, statements, year-end settlement and reports. Decisions (coverage, ceiling,
//! carry-over) come from `welfare-core`; this module applies them.

use std::fmt::Write as _;

use sqlx::Row;
use sqlx::any::AnyRow;
use welfare_core::Money;
use welfare_core::category::Category;
use welfare_core::time::Date;
use welfare_core::wallet::{CarryOver, PlanRules, Regime, fringe_benefit_ceiling};

use welfare_core::wallet::settle_year_end_after;
use welfare_runtime::uuid::new_uuid;

use crate::ledger::{
    Backend, Balance, Ledger, LedgerError, MAX_WALLET_BALANCE_CENTS, Outcome, balance_from_row,
    check_amount, clamped, company_account, idempotency_key, wallet_account,
};

/// The most employees one FundWallets call may fund.
pub const MAX_FUNDING_BATCH: usize = 10_000;
/// Days before expiry from which available credit counts as "expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 30;
/// Rows written by one statement of a funding batch (each row binds at most 9 values, well
/// within both backends' limits on bound parameters).
pub const FUNDING_CHUNK: usize = 500;
/// The most wallets one ExpireWallets call, or one sweep of released credit, settles.
pub const MAX_SETTLEMENT_WALLETS: i64 = 100_000;

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub id: String,
    pub company_id: String,
    pub display_name: String,
    pub rules: PlanRules,
    pub created_at: i64,
}

/// Who a wallet belongs to: what authorization and the plan's rules need, without balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletOwner {
    pub id: String,
    pub employee_id: String,
    pub company_id: String,
    pub plan_id: String,
    pub has_dependent_children: bool,
}

/// An employee's wallet with its plan's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletView {
    pub id: String,
    pub employee_id: String,
    pub company_id: String,
    pub plan_id: String,
    pub has_dependent_children: bool,
    pub balance: Balance,
    /// Captured net of refunds, in cents.
    pub spent: i64,
    /// Funding and carry-over in, in cents.
    pub credited: i64,
}

impl WalletView {
    /// Who the wallet belongs to.
    pub fn owner(&self) -> WalletOwner {
        WalletOwner {
            id: self.id.clone(),
            employee_id: self.employee_id.clone(),
            company_id: self.company_id.clone(),
            plan_id: self.plan_id.clone(),
            has_dependent_children: self.has_dependent_children,
        }
    }
}

/// One employee's funding in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    pub employee_id: String,
    pub amount: Option<Money>,
    pub has_dependent_children: bool,
}

/// What happened to one employee's funding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FundingOutcome {
    Funded { wallet_id: String, amount: Money },
    AlreadyFunded { wallet_id: String },
}

/// Why a funding batch was refused whole: the first employee (by position) it failed on.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("fundings[{index}]: {error}")]
    Funding { index: usize, error: LedgerError },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> BatchError {
        BatchError::Ledger(LedgerError::Database(error))
    }
}

/// One employee's funding in a batch, as written.
struct FundingRow {
    wallet: String,
    key: String,
    amount: Money,
    fingerprint: String,
}

/// A concurrent batch with the same keys committed first (the batch is run again once).
const RACED: &str = "funding batch raced";

/// One statement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub id: String,
    pub kind: String,
    /// Signed effect on the available balance.
    pub amount: Money,
    pub hold_id: Option<String>,
    pub category: Option<String>,
    pub booking_id: Option<String>,
    pub created_at: i64,
}

/// The settlement of a plan at year end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settlement {
    pub wallets_settled: i64,
    /// Cents moved to next year's wallets by this call.
    pub carried_over: i64,
    /// Cents returned to the company by this call.
    pub returned: i64,
    /// Holds still pending: their credit stays held, and follows the plan's year-end rule
    /// when they are released or expire.
    pub holds_pending: i64,
}

/// Spending of one employee with one employer in a year, for payroll.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaxReport {
    /// Exempt services by TUIR letter code ("f", "f-bis", "f-ter").
    pub services: Vec<(String, Money)>,
    pub fringe_benefits: Money,
    pub fringe_benefit_ceiling: Money,
}

/// The totals of one plan, in cents: sums over many wallets, kept as plain integers so that
/// no stored state can make a report fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTotals {
    pub plan_id: String,
    pub display_name: String,
    /// Employees credited by at least one funding of the plan.
    pub employees: i64,
    pub funded: i64,
    pub spent: i64,
    pub pending: i64,
    pub available: i64,
    pub returned: i64,
    pub carried_over: i64,
}

fn cents(row: &AnyRow, column: &str) -> Result<i64, LedgerError> {
    Ok(row.try_get(column)?)
}

/// `$first, $first+1, …` grouped `width` to a row, for a multi-row `VALUES` of `rows` rows.
fn placeholders(rows: usize, width: usize, first: usize) -> String {
    let mut sql = String::new();
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", first + row * width + column);
        }
        sql.push(')');
    }
    sql
}

/// `$first, …` for an `IN (…)` list of `count` values.
fn list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn corrupt(what: String) -> LedgerError {
    LedgerError::Database(sqlx::Error::Protocol(what))
}

fn parse_regime(code: &str) -> Result<Regime, LedgerError> {
    Regime::from_code(code).ok_or_else(|| corrupt(format!("unknown regime {code:?}")))
}

/// The wallet id of an employee in a plan: stable, so a retried funding finds the same wallet,
/// and unambiguous, since a plan id (a UUID) holds no `/`.
pub fn wallet_id(plan_id: &str, employee_id: &str) -> String {
    format!("{plan_id}/{employee_id}")
}

fn wallet_id_in(plan: &Plan, employee_id: &str) -> String {
    wallet_id(&plan.id, employee_id)
}

/// The longest wallet id: a plan's UUID, `/`, an employee id.
pub const MAX_WALLET_ID_BYTES: usize = 36 + 1 + welfare_core::ids::MAX_ID_LEN;

impl Ledger {
    /// Creates a plan with a new UUID. `(company_id, request_id)` is the idempotency key: the
    /// same key with the same fields is a retry (the plan first created), with other fields
    /// `IdReused`. Another company's request ids are another namespace.
    pub async fn create_plan(
        &self,
        company_id: &str,
        request_id: &str,
        display_name: &str,
        rules: &PlanRules,
        now: i64,
    ) -> Result<Outcome<Plan>, LedgerError> {
        let categories: Vec<&str> = rules
            .allowed_categories()
            .iter()
            .map(|c| c.code())
            .collect();
        let categories = categories.join(",");
        let (carry, carry_max) = match rules.carry_over() {
            CarryOver::None => (0i64, None),
            CarryOver::NextYear { max } => (1, max.map(Money::cents)),
        };
        let fingerprint = format!(
            "{display_name}|{}|{}|{categories}|{}|{}|{carry}|{carry_max:?}",
            rules.year(),
            rules.allowance_per_employee().cents(),
            rules.regime().code(),
            rules.expires_on()
        );
        let inserted = sqlx::query(
            "INSERT INTO plans (id, company_id, request_id, display_name, year, allowance_cents, allowed_categories, regime, \
             expires_on, carry_over, carry_over_max_cents, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
        )
        .bind(new_uuid())
        .bind(company_id)
        .bind(request_id)
        .bind(display_name)
        .bind(rules.year())
        .bind(rules.allowance_per_employee().cents())
        .bind(&categories)
        .bind(rules.regime().code())
        .bind(rules.expires_on().to_string())
        .bind(carry)
        .bind(carry_max)
        .bind(&fingerprint)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        let stored = sqlx::query(
            "SELECT id, fingerprint FROM plans WHERE company_id = $1 AND request_id = $2",
        )
        .bind(company_id)
        .bind(request_id)
        .fetch_one(self.pool())
        .await?;
        let stored_print: String = stored.try_get("fingerprint")?;
        if stored_print != fingerprint {
            return Err(LedgerError::IdReused(request_id.to_owned()));
        }
        let plan = self.get_plan(&stored.try_get::<String, _>("id")?).await?;
        Ok(if inserted == 1 {
            Outcome::Created(plan)
        } else {
            Outcome::Existing(plan)
        })
    }

    /// A plan. Plans never change once created.
    pub async fn get_plan(&self, id: &str) -> Result<Plan, LedgerError> {
        let row = sqlx::query(
            "SELECT id, company_id, display_name, year, allowance_cents, allowed_categories, regime, expires_on, \
             carry_over, carry_over_max_cents, created_at FROM plans WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| LedgerError::PlanNotFound(id.to_owned()))?;
        plan_from_row(&row)
    }

    /// Employees credited by at least one of the plan's fundings, and the total credited in
    /// cents.
    pub async fn plan_funding(&self, plan: &Plan) -> Result<(i64, i64), LedgerError> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(DISTINCT credit_account) AS BIGINT) AS employees, \
             CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total \
             FROM transfers WHERE debit_account = $1 AND kind = 'funding'",
        )
        .bind(company_account(&plan.company_id, &plan.id))
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("employees")?, cents(&row, "total")?))
    }

    /// Who a wallet belongs to.
    pub async fn wallet_owner(&self, id: &str) -> Result<WalletOwner, LedgerError> {
        let row = sqlx::query("SELECT id, employee_id, company_id, plan_id, has_dependent_children FROM wallets WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| LedgerError::WalletNotFound(id.to_owned()))?;
        let children: i64 = row.try_get("has_dependent_children")?;
        Ok(WalletOwner {
            id: row.try_get("id")?,
            employee_id: row.try_get("employee_id")?,
            company_id: row.try_get("company_id")?,
            plan_id: row.try_get("plan_id")?,
            has_dependent_children: children != 0,
        })
    }

    /// A company's plans, optionally of one year, oldest first, paged by offset.
    pub async fn list_plans(
        &self,
        company_id: &str,
        year: Option<i32>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Plan>, LedgerError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM plans WHERE company_id = $1 AND ($2 = 0 OR year = $2) ORDER BY year, created_at, id LIMIT $3 OFFSET $4",
        )
        .bind(company_id)
        .bind(year.unwrap_or(0))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let mut plans = Vec::with_capacity(ids.len());
        for id in ids {
            plans.push(self.get_plan(&id).await?);
        }
        Ok(plans)
    }

    /// Funds employees' wallets from a plan, all or nothing: one transaction opens the missing
    /// wallets, credits them and writes the transfers, a few hundred rows to a statement, so a
    /// batch that fails or is cut off by its deadline leaves nothing behind. Each employee's
    /// idempotency key is built from the plan, `request_id` and the employee, so a retried
    /// batch (or one that repeats part of an earlier one) funds nobody twice; an employee
    /// whose key was used with another amount refuses the whole batch (`IdReused`), and so
    /// does one whose wallet would pass [`MAX_WALLET_BALANCE_CENTS`] (`WalletLimit`).
    pub async fn fund_wallets(
        &self,
        plan: &Plan,
        request_id: &str,
        fundings: &[Funding],
        now: i64,
    ) -> Result<Vec<(String, FundingOutcome)>, BatchError> {
        // A concurrent batch with the same keys may commit between our check and our insert;
        // the second attempt then finds its transfers.
        match self.fund_batch(plan, request_id, fundings, now).await {
            Err(BatchError::Ledger(LedgerError::Database(sqlx::Error::Protocol(raced))))
                if raced == RACED =>
            {
                self.fund_batch(plan, request_id, fundings, now).await
            }
            other => other,
        }
    }

    async fn fund_batch(
        &self,
        plan: &Plan,
        request_id: &str,
        fundings: &[Funding],
        now: i64,
    ) -> Result<Vec<(String, FundingOutcome)>, BatchError> {
        let mut rows = Vec::with_capacity(fundings.len());
        let mut seen = std::collections::HashSet::new();
        for (index, funding) in fundings.iter().enumerate() {
            let amount = funding
                .amount
                .unwrap_or(plan.rules.allowance_per_employee());
            check_amount("amount", amount).map_err(|error| BatchError::Funding { index, error })?;
            if !seen.insert(funding.employee_id.as_str()) {
                return Err(BatchError::Funding {
                    index,
                    error: LedgerError::Invalid {
                        field: "employee_id",
                        problem: "appears twice in the batch".to_owned(),
                    },
                });
            }
            let wallet = wallet_id(&plan.id, &funding.employee_id);
            rows.push(FundingRow {
                key: idempotency_key(&["fund", &plan.id, request_id, &funding.employee_id]),
                fingerprint: format!("fund|{wallet}|{}", amount.cents()),
                wallet,
                amount,
            });
        }
        let company = company_account(&plan.company_id, &plan.id);
        let mut tx = self.pool().begin().await?;
        for (chunk, fundings) in rows
            .chunks(FUNDING_CHUNK)
            .zip(fundings.chunks(FUNDING_CHUNK))
        {
            let sql = format!(
                "INSERT INTO wallets (id, company_id, plan_id, employee_id, created_at) VALUES {} ON CONFLICT DO NOTHING",
                placeholders(chunk.len(), 5, 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, funding) in chunk.iter().zip(fundings) {
                query = query
                    .bind(&row.wallet)
                    .bind(&plan.company_id)
                    .bind(&plan.id)
                    .bind(&funding.employee_id)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
            if self.backend() == Backend::Postgres {
                // Wallets locked in one order by every batch: two batches never deadlock.
                let sql = format!(
                    "SELECT id FROM wallets WHERE id IN ({}) ORDER BY id FOR UPDATE",
                    list(chunk.len(), 1)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for row in chunk {
                    query = query.bind(&row.wallet);
                }
                query.fetch_all(&mut *tx).await?;
            }
        }
        // What earlier calls with these keys did.
        let mut earlier = std::collections::HashMap::new();
        for chunk in rows.chunks(FUNDING_CHUNK) {
            let sql = format!(
                "SELECT idempotency_key, fingerprint FROM transfers WHERE idempotency_key IN ({})",
                list(chunk.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                query = query.bind(&row.key);
            }
            for found in query.fetch_all(&mut *tx).await? {
                let key: String = found.try_get("idempotency_key")?;
                let fingerprint: String = found.try_get("fingerprint")?;
                earlier.insert(key, fingerprint);
            }
        }
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut new = Vec::new();
        for (index, (row, funding)) in rows.iter().zip(fundings).enumerate() {
            let outcome = match earlier.get(&row.key) {
                Some(fingerprint) if *fingerprint == row.fingerprint => {
                    FundingOutcome::AlreadyFunded {
                        wallet_id: row.wallet.clone(),
                    }
                }
                Some(_) => {
                    return Err(BatchError::Funding {
                        index,
                        error: LedgerError::IdReused(request_id.to_owned()),
                    });
                }
                None => {
                    new.push(index);
                    FundingOutcome::Funded {
                        wallet_id: row.wallet.clone(),
                        amount: row.amount,
                    }
                }
            };
            outcomes.push((funding.employee_id.clone(), outcome));
        }
        let flagged: Vec<&str> = rows
            .iter()
            .zip(fundings)
            .filter(|(_, f)| f.has_dependent_children)
            .map(|(row, _)| row.wallet.as_str())
            .collect();
        for chunk in flagged.chunks(FUNDING_CHUNK) {
            let sql = format!(
                "UPDATE wallets SET has_dependent_children = 1 WHERE id IN ({})",
                list(chunk.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for wallet in chunk {
                query = query.bind(*wallet);
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in new.chunks(FUNDING_CHUNK) {
            // Every wallet is locked (or, on SQLite, the database is): the balances read now
            // are the ones the update changes.
            if let Some(over) = Ledger::first_over_limit(&mut tx, &rows, chunk).await? {
                tx.rollback().await?;
                return Err(over);
            }
            // The balances first, under each wallet's row lock; then the transfers, whose
            // sequence so follows the balance changes.
            let sql = format!(
                "UPDATE wallets SET credits_posted = credits_posted + v.column2 FROM (VALUES {}) AS v \
                 WHERE wallets.id = v.column1 AND wallets.credits_posted - wallets.debits_posted + v.column2 <= $1",
                placeholders(chunk.len(), 2, 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(MAX_WALLET_BALANCE_CENTS);
            for &index in chunk {
                let row = rows.get(index).ok_or_else(|| corrupt("index".to_owned()))?;
                query = query.bind(&row.wallet).bind(row.amount.cents());
            }
            let credited = query.execute(&mut *tx).await?.rows_affected();
            if usize::try_from(credited).ok() != Some(chunk.len()) {
                tx.rollback().await?;
                return Err(corrupt(format!(
                    "{credited} of {} wallets credited after their balances were checked",
                    chunk.len()
                ))
                .into());
            }
            let sql = format!(
                "INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                placeholders(chunk.len(), 9, 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &index in chunk {
                let row = rows.get(index).ok_or_else(|| corrupt("index".to_owned()))?;
                query = query
                    .bind(new_uuid())
                    .bind(&row.key)
                    .bind("funding")
                    .bind(&company)
                    .bind(wallet_account(&row.wallet))
                    .bind(row.amount.cents())
                    .bind(None::<String>)
                    .bind(&row.fingerprint)
                    .bind(now);
            }
            let inserted = query.execute(&mut *tx).await?.rows_affected();
            if usize::try_from(inserted).ok() != Some(chunk.len()) {
                tx.rollback().await?;
                return Err(LedgerError::Database(sqlx::Error::Protocol(RACED.to_owned())).into());
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The first of a chunk's fundings that would take its wallet past the balance limit.
    async fn first_over_limit(
        connection: &mut sqlx::AnyConnection,
        rows: &[FundingRow],
        chunk: &[usize],
    ) -> Result<Option<BatchError>, LedgerError> {
        let sql = format!(
            "SELECT id, credits_posted, debits_posted, debits_pending FROM wallets WHERE id IN ({})",
            list(chunk.len(), 1)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &index in chunk {
            let row = rows.get(index).ok_or_else(|| corrupt("index".to_owned()))?;
            query = query.bind(&row.wallet);
        }
        let mut balances = std::collections::HashMap::new();
        for found in query.fetch_all(&mut *connection).await? {
            let id: String = found.try_get("id")?;
            balances.insert(id, balance_from_row(&found)?);
        }
        for &index in chunk {
            let row = rows.get(index).ok_or_else(|| corrupt("index".to_owned()))?;
            let balance = balances
                .get(&row.wallet)
                .ok_or_else(|| LedgerError::WalletNotFound(row.wallet.clone()))?;
            let would_be = balance
                .credits_posted
                .saturating_sub(balance.debits_posted)
                .saturating_add(row.amount.cents());
            if would_be > MAX_WALLET_BALANCE_CENTS {
                return Ok(Some(BatchError::Funding {
                    index,
                    error: LedgerError::WalletLimit {
                        wallet_id: row.wallet.clone(),
                        would_be,
                    },
                }));
            }
        }
        Ok(None)
    }

    /// A wallet with its balances, spending and credits.
    pub async fn wallet_view(&self, id: &str) -> Result<WalletView, LedgerError> {
        let row = sqlx::query(
            "SELECT w.id AS id, w.employee_id AS employee_id, w.company_id AS company_id, w.plan_id AS plan_id, \
             w.has_dependent_children AS has_dependent_children, \
             w.credits_posted AS credits_posted, w.debits_posted AS debits_posted, w.debits_pending AS debits_pending, \
             CAST(COALESCE((SELECT SUM(h.captured - h.refunded) FROM holds h WHERE h.wallet_id = w.id), 0) AS BIGINT) AS spent, \
             CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.credit_account = 'wallet:' || w.id \
               AND t.kind IN ('funding', 'carry_over')), 0) AS BIGINT) AS credited \
             FROM wallets w WHERE w.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| LedgerError::WalletNotFound(id.to_owned()))?;
        let children: i64 = row.try_get("has_dependent_children")?;
        Ok(WalletView {
            id: row.try_get("id")?,
            employee_id: row.try_get("employee_id")?,
            company_id: row.try_get("company_id")?,
            plan_id: row.try_get("plan_id")?,
            has_dependent_children: children != 0,
            balance: balance_from_row(&row)?,
            spent: cents(&row, "spent")?,
            credited: cents(&row, "credited")?,
        })
    }

    /// A wallet's statement, newest first in the ledger's own order (its sequence, never the
    /// clock: transfers in the same second keep their order), paged by offset. Hold lines show
    /// the amount held,
    /// release and expiry lines give it back, captures change nothing more (the hold already
    /// took the amount from the available balance).
    pub async fn statement(
        &self,
        wallet_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<StatementLine>, LedgerError> {
        let account = wallet_account(wallet_id);
        let rows = sqlx::query(
            "SELECT t.id AS id, t.kind AS kind, t.amount AS amount, t.hold_id AS hold_id, t.created_at AS created_at, \
             t.debit_account AS debit_account, h.category AS category, h.booking_id AS booking_id \
             FROM transfers t LEFT JOIN holds h ON h.id = t.hold_id \
             WHERE t.debit_account = $1 OR t.credit_account = $1 \
             ORDER BY t.seq DESC LIMIT $2 OFFSET $3",
        )
        .bind(&account)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let debit: String = row.try_get("debit_account")?;
                let amount = clamped(cents(row, "amount")?);
                let effect = match kind.as_str() {
                    "hold" => amount.checked_neg(),
                    "release" | "expire" => amount,
                    "capture" => Money::ZERO,
                    _ if debit == account => amount.checked_neg(),
                    _ => amount,
                };
                Ok(StatementLine {
                    id: row.try_get("id")?,
                    kind,
                    amount: effect,
                    hold_id: row.try_get("hold_id")?,
                    category: row.try_get("category")?,
                    booking_id: row.try_get("booking_id")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

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
            let target = wallet_id_in(next, &employee);
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
    /// credit (given back after their settlement, where the inline settlement failed); the
    /// sweeper calls it. Returns how many it settled.
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

    /// Tax report of one employee with one employer for a year.
    pub async fn tax_report(
        &self,
        employee_id: &str,
        company_id: &str,
        year: i32,
    ) -> Result<TaxReport, LedgerError> {
        let rows = sqlx::query(
            "SELECT p.regime AS regime, h.tax_letter AS tax_letter, CAST(SUM(h.captured - h.refunded) AS BIGINT) AS spent \
             FROM holds h JOIN wallets w ON w.id = h.wallet_id JOIN plans p ON p.id = w.plan_id \
             WHERE w.employee_id = $1 AND w.company_id = $2 AND p.year = $3 AND h.captured > 0 \
             GROUP BY p.regime, h.tax_letter ORDER BY p.regime, h.tax_letter",
        )
        .bind(employee_id)
        .bind(company_id)
        .bind(year)
        .fetch_all(self.pool())
        .await?;
        let mut report = TaxReport::default();
        for row in rows {
            let regime: String = row.try_get("regime")?;
            let spent = clamped(cents(&row, "spent")?);
            if parse_regime(&regime)? == Regime::Art51C3FringeBenefit {
                report.fringe_benefits = report
                    .fringe_benefits
                    .checked_add(spent)
                    .map_err(|e| corrupt(e.to_string()))?;
            } else {
                report.services.push((row.try_get("tax_letter")?, spent));
            }
        }
        let children: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(w.has_dependent_children) FROM wallets w JOIN plans p ON p.id = w.plan_id \
             WHERE w.employee_id = $1 AND w.company_id = $2 AND p.year = $3",
        )
        .bind(employee_id)
        .bind(company_id)
        .bind(year)
        .fetch_one(self.pool())
        .await?;
        report.fringe_benefit_ceiling = fringe_benefit_ceiling(year, children.unwrap_or(0) != 0);
        Ok(report)
    }

    /// A company's plans of a year with their totals.
    pub async fn company_report(
        &self,
        company_id: &str,
        year: i32,
    ) -> Result<Vec<PlanTotals>, LedgerError> {
        let rows = sqlx::query(
            "SELECT p.id AS id, p.display_name AS display_name, \
             CAST((SELECT COUNT(DISTINCT t.credit_account) FROM transfers t WHERE t.debit_account = 'company:' || p.company_id || ':' || p.id AND t.kind = 'funding') AS BIGINT) AS employees, \
             CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.debit_account = 'company:' || p.company_id || ':' || p.id AND t.kind = 'funding'), 0) AS BIGINT) AS funded, \
             CAST(COALESCE((SELECT SUM(h.captured - h.refunded) FROM holds h JOIN wallets w ON w.id = h.wallet_id WHERE w.plan_id = p.id), 0) AS BIGINT) AS spent, \
             CAST(COALESCE((SELECT SUM(w.debits_pending) FROM wallets w WHERE w.plan_id = p.id), 0) AS BIGINT) AS pending, \
             CAST(COALESCE((SELECT SUM(w.credits_posted - w.debits_posted - w.debits_pending) FROM wallets w WHERE w.plan_id = p.id), 0) AS BIGINT) AS available, \
             CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.credit_account = 'company:' || p.company_id || ':' || p.id AND t.kind = 'return'), 0) AS BIGINT) AS returned, \
             CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t JOIN wallets w ON t.debit_account = 'wallet:' || w.id WHERE w.plan_id = p.id AND t.kind = 'carry_over'), 0) AS BIGINT) AS carried_over \
             FROM plans p WHERE p.company_id = $1 AND p.year = $2 ORDER BY p.created_at, p.id",
        )
        .bind(company_id)
        .bind(year)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PlanTotals {
                    plan_id: row.try_get("id")?,
                    display_name: row.try_get("display_name")?,
                    employees: row.try_get("employees")?,
                    funded: cents(row, "funded")?,
                    spent: cents(row, "spent")?,
                    pending: cents(row, "pending")?,
                    available: cents(row, "available")?,
                    returned: cents(row, "returned")?,
                    carried_over: cents(row, "carried_over")?,
                })
            })
            .collect()
    }
}

fn plan_from_row(row: &AnyRow) -> Result<Plan, LedgerError> {
    let categories: String = row.try_get("allowed_categories")?;
    let categories = categories
        .split(',')
        .map(|code| code.parse::<Category>().map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let regime: String = row.try_get("regime")?;
    let expires_on: String = row.try_get("expires_on")?;
    let carry: i64 = row.try_get("carry_over")?;
    let carry_max: Option<i64> = row.try_get("carry_over_max_cents")?;
    let carry_over = if carry == 0 {
        CarryOver::None
    } else {
        CarryOver::NextYear {
            max: carry_max
                .map(Money::from_cents)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
        }
    };
    let year: i32 = row.try_get("year")?;
    let rules = PlanRules::new(
        year,
        money_column(row, "allowance_cents")?,
        categories,
        parse_regime(&regime)?,
        expires_on
            .parse()
            .map_err(|e: welfare_core::time::DateError| corrupt(e.to_string()))?,
        carry_over,
    )
    .map_err(|e| corrupt(e.to_string()))?;
    Ok(Plan {
        id: row.try_get("id")?,
        company_id: row.try_get("company_id")?,
        display_name: row.try_get("display_name")?,
        rules,
        created_at: row.try_get("created_at")?,
    })
}

fn money_column(row: &AnyRow, column: &str) -> Result<Money, LedgerError> {
    Money::from_cents(cents(row, column)?).map_err(|e| corrupt(format!("{column}: {e}")))
}
