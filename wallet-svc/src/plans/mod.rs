//! Company plans and what the service does with them on top of the ledger: funding batches,
//! wallet views, statements, year-end settlement and reports. Decisions (coverage, ceiling,
//! carry-over) come from `welfare-core`; this module applies them.

use sqlx::Row;
use sqlx::any::AnyRow;
use welfare_core::Money;
use welfare_core::category::Category;
use welfare_core::wallet::{CarryOver, PlanRules, Regime};

use welfare_runtime::uuid::new_uuid;

mod funding;
mod reports;
mod settlement;

use crate::ledger::{
    Balance, Ledger, LedgerError, Outcome, balance_from_row, company_account, money,
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
    /// A concurrent batch with the same keys committed between this one's check and its
    /// writes: nothing of this one was written, and running it again finds the other's.
    #[error("a concurrent batch with the same request id committed first")]
    Raced,
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> BatchError {
        BatchError::Ledger(LedgerError::Database(error))
    }
}

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

    /// The ids of a plan's wallets, by employee, paged by offset.
    pub async fn plan_wallet_ids(
        &self,
        plan_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>, LedgerError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM wallets WHERE plan_id = $1 ORDER BY employee_id, id LIMIT $2 OFFSET $3",
        )
        .bind(plan_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?)
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
        money(row, "allowance_cents")?,
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
