//! What the ledger tells people: a wallet's statement, an employee's tax report for payroll,
//! a company's totals. Sums are plain integer cents: no stored state can make them fail.

use sqlx::Row;
use welfare_core::Money;
use welfare_core::wallet::{Regime, fringe_benefit_ceiling};

use super::{PlanTotals, StatementLine, TaxReport, cents, corrupt, parse_regime};
use crate::ledger::{Ledger, LedgerError, clamped, wallet_account};

impl Ledger {
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
