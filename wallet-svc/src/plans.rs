//! Company plans and what the service does with them on top of the ledger: funding batches,
//! wallet views, statements, year-end settlement and reports. Decisions (coverage, ceiling,
//! carry-over) come from `welfare-core`; this module applies them.

use sqlx::Row;
use sqlx::any::AnyRow;
use welfare_core::Money;
use welfare_core::category::Category;
use welfare_core::time::Date;
use welfare_core::wallet::{CarryOver, PlanRules, Regime, fringe_benefit_ceiling, settle_year_end};

use crate::ledger::{
    Balance, Ledger, LedgerError, NewWallet, Outcome, company_account, wallet_account,
};

/// The most employees one FundWallets call may fund.
pub const MAX_FUNDING_BATCH: usize = 10_000;
/// Days before expiry from which available credit counts as "expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 30;
/// Employees funded at once within one FundWallets call.
pub const FUNDING_CONCURRENCY: usize = 16;
/// The most wallets one ExpireWallets call settles.
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
    pub spent: Money,
    pub credited: Money,
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
    Refused { reason: &'static str },
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
    pub carried_over: Money,
    pub returned: Money,
    pub holds_expired: i64,
}

/// Spending of one employee with one employer in a year, for payroll.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaxReport {
    /// Exempt services by TUIR letter code ("f", "f-bis", "f-ter").
    pub services: Vec<(String, Money)>,
    pub fringe_benefits: Money,
    pub fringe_benefit_ceiling: Money,
}

/// The totals of one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTotals {
    pub plan_id: String,
    pub display_name: String,
    pub employees: i64,
    pub funded: Money,
    pub spent: Money,
    pub pending: Money,
    pub available: Money,
    pub returned: Money,
    pub carried_over: Money,
}

fn cents(row: &AnyRow, column: &str) -> Result<Money, LedgerError> {
    let value: i64 = row.try_get(column)?;
    Money::from_cents(value)
        .map_err(|e| LedgerError::Database(sqlx::Error::Protocol(format!("{column}: {e}"))))
}

fn corrupt(what: String) -> LedgerError {
    LedgerError::Database(sqlx::Error::Protocol(what))
}

fn parse_regime(code: &str) -> Result<Regime, LedgerError> {
    Regime::from_code(code).ok_or_else(|| corrupt(format!("unknown regime {code:?}")))
}

/// The wallet id of an employee in a plan: stable, so a retried funding finds the same wallet.
pub fn wallet_id(plan_id: &str, employee_id: &str) -> String {
    format!("{plan_id}/{employee_id}")
}

impl Ledger {
    /// Creates a plan with the caller's id; the same id with the same fields is a retry.
    pub async fn create_plan(
        &self,
        id: &str,
        company_id: &str,
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
            "{company_id}|{display_name}|{}|{}|{categories}|{}|{}|{carry}|{carry_max:?}",
            rules.year(),
            rules.allowance_per_employee().cents(),
            rules.regime().code(),
            rules.expires_on()
        );
        let inserted = sqlx::query(
            "INSERT INTO plans (id, company_id, display_name, year, allowance_cents, allowed_categories, regime, expires_on, \
             carry_over, carry_over_max_cents, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(company_id)
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
        let stored: String = sqlx::query_scalar("SELECT fingerprint FROM plans WHERE id = $1")
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        if stored != fingerprint {
            return Err(LedgerError::IdReused(id.to_owned()));
        }
        let plan = self.get_plan(id).await?;
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

    /// Employees funded by a plan and the total credited.
    pub async fn plan_funding(&self, plan: &Plan) -> Result<(i64, Money), LedgerError> {
        let row = sqlx::query(
            "SELECT CAST((SELECT COUNT(*) FROM wallets WHERE plan_id = $1) AS BIGINT) AS employees, \
             CAST(COALESCE((SELECT SUM(amount) FROM transfers WHERE debit_account = $2 AND kind = 'funding'), 0) AS BIGINT) AS total",
        )
        .bind(&plan.id)
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

    /// Funds employees' wallets from a plan. Each employee's transfer id derives from the
    /// request id, so a retried batch (or part of it) funds nobody twice. Employees are funded
    /// [`FUNDING_CONCURRENCY`] at a time: each funding is its own transaction on its own row.
    pub async fn fund_wallets(
        &self,
        plan: &Plan,
        request_id: &str,
        fundings: &[Funding],
        now: i64,
    ) -> Result<Vec<(String, FundingOutcome)>, LedgerError> {
        let mut results: Vec<Option<(String, FundingOutcome)>> = vec![None; fundings.len()];
        let mut running = tokio::task::JoinSet::new();
        for (index, funding) in fundings.iter().enumerate() {
            if running.len() >= FUNDING_CONCURRENCY
                && let Some(done) = running.join_next().await
            {
                let (at, outcome) =
                    done.map_err(|e| corrupt(format!("funding task failed: {e}")))??;
                if let Some(slot) = results.get_mut(at) {
                    *slot = Some(outcome);
                }
            }
            let (ledger, plan, funding, request_id) = (
                self.clone(),
                plan.clone(),
                funding.clone(),
                request_id.to_owned(),
            );
            running.spawn(async move {
                ledger
                    .fund_one(&plan, &request_id, &funding, now)
                    .await
                    .map(|outcome| (index, outcome))
            });
        }
        while let Some(done) = running.join_next().await {
            let (at, outcome) =
                done.map_err(|e| corrupt(format!("funding task failed: {e}")))??;
            if let Some(slot) = results.get_mut(at) {
                *slot = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|r| r.ok_or_else(|| corrupt("a funding went missing".to_owned())))
            .collect()
    }

    async fn fund_one(
        &self,
        plan: &Plan,
        request_id: &str,
        funding: &Funding,
        now: i64,
    ) -> Result<(String, FundingOutcome), LedgerError> {
        let wallet = NewWallet {
            id: wallet_id(&plan.id, &funding.employee_id),
            company_id: plan.company_id.clone(),
            plan_id: plan.id.clone(),
            employee_id: funding.employee_id.clone(),
        };
        self.open_wallet(&wallet, now).await?;
        if funding.has_dependent_children {
            sqlx::query("UPDATE wallets SET has_dependent_children = 1 WHERE id = $1")
                .bind(&wallet.id)
                .execute(self.pool())
                .await?;
        }
        let amount = funding
            .amount
            .unwrap_or(plan.rules.allowance_per_employee());
        let transfer_id = format!("fund:{request_id}:{}", funding.employee_id);
        let outcome = match self.fund(&transfer_id, &wallet.id, amount, now).await {
            Ok(Outcome::Created(_)) => FundingOutcome::Funded {
                wallet_id: wallet.id,
                amount,
            },
            Ok(Outcome::Existing(_)) => FundingOutcome::AlreadyFunded {
                wallet_id: wallet.id,
            },
            Err(error @ (LedgerError::IdReused(_) | LedgerError::Invalid { .. })) => {
                FundingOutcome::Refused {
                    reason: error.reason(),
                }
            }
            Err(other) => return Err(other),
        };
        Ok((funding.employee_id.clone(), outcome))
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
            balance: Balance {
                credits_posted: cents(&row, "credits_posted")?,
                debits_posted: cents(&row, "debits_posted")?,
                debits_pending: cents(&row, "debits_pending")?,
            },
            spent: cents(&row, "spent")?,
            credited: cents(&row, "credited")?,
        })
    }

    /// A wallet's statement, newest first, paged by offset. Hold lines show the amount held,
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
             ORDER BY t.created_at DESC, t.id DESC LIMIT $2 OFFSET $3",
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
                let amount = cents(row, "amount")?;
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

    /// Year end for a plan: expires its pending holds, then moves each wallet's available
    /// balance to the employee's wallet in `next_plan` (where the plan carries over, up to its
    /// maximum) and returns the rest to the company. Transfer ids derive from `request_id`, so
    /// a retry settles nothing twice.
    pub async fn settle_plan(
        &self,
        plan: &Plan,
        next_plan: Option<&Plan>,
        request_id: &str,
        as_of: Date,
        now: i64,
    ) -> Result<Settlement, LedgerError> {
        if as_of <= plan.rules.expires_on() {
            return Err(LedgerError::Invalid {
                field: "as_of",
                problem: format!(
                    "must be after the plan's expiry on {}",
                    plan.rules.expires_on()
                ),
            });
        }
        let mut settlement = Settlement::default();
        let pending: Vec<String> = sqlx::query_scalar(
            "SELECT h.id FROM holds h JOIN wallets w ON w.id = h.wallet_id WHERE w.plan_id = $1 AND h.state = 'pending'",
        )
        .bind(&plan.id)
        .fetch_all(self.pool())
        .await?;
        for hold_id in pending {
            let expired = self.expire_hold_now(&hold_id, now).await?;
            settlement.holds_expired += i64::from(expired);
        }
        let wallets: Vec<String> =
            sqlx::query_scalar("SELECT id FROM wallets WHERE plan_id = $1 ORDER BY id LIMIT $2")
                .bind(&plan.id)
                .bind(MAX_SETTLEMENT_WALLETS)
                .fetch_all(self.pool())
                .await?;
        for wallet in wallets {
            let view = self.wallet_view(&wallet).await?;
            let split = settle_year_end(&plan.rules, view.balance.available());
            let carry = match next_plan {
                Some(_) => split.carried_over,
                None => Money::ZERO,
            };
            let returned = split
                .returned
                .checked_add(split.carried_over.checked_sub(carry).unwrap_or(Money::ZERO))
                .unwrap_or(split.returned);
            if carry.is_positive()
                && let Some(next) = next_plan
            {
                let target = NewWallet {
                    id: wallet_id(&next.id, &view.employee_id),
                    company_id: next.company_id.clone(),
                    plan_id: next.id.clone(),
                    employee_id: view.employee_id.clone(),
                };
                self.open_wallet(&target, now).await?;
                let id = format!("carry:{request_id}:{wallet}");
                if self
                    .move_posted(
                        &id,
                        "carry_over",
                        &wallet,
                        &wallet_account(&target.id),
                        Some(&target.id),
                        carry,
                        now,
                    )
                    .await?
                {
                    settlement.carried_over = settlement
                        .carried_over
                        .checked_add(carry)
                        .map_err(|e| corrupt(e.to_string()))?;
                }
            }
            if returned.is_positive() {
                let id = format!("return:{request_id}:{wallet}");
                let company = company_account(&plan.company_id, &plan.id);
                if self
                    .move_posted(&id, "return", &wallet, &company, None, returned, now)
                    .await?
                {
                    settlement.returned = settlement
                        .returned
                        .checked_add(returned)
                        .map_err(|e| corrupt(e.to_string()))?;
                }
            }
            settlement.wallets_settled += 1;
        }
        sqlx::query("UPDATE plans SET settled = 1 WHERE id = $1")
            .bind(&plan.id)
            .execute(self.pool())
            .await?;
        Ok(settlement)
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
            let spent = cents(&row, "spent")?;
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
             CAST((SELECT COUNT(*) FROM wallets w WHERE w.plan_id = p.id) AS BIGINT) AS employees, \
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
        cents(row, "allowance_cents")?,
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
