//! Funding batches: up to [`super::MAX_FUNDING_BATCH`] employees credited in one
//! transaction of batched statements, all or nothing.

use std::fmt::Write as _;

use sqlx::Row;
use welfare_core::Money;
use welfare_runtime::uuid::new_uuid;

use super::{BatchError, FUNDING_CHUNK, Funding, FundingOutcome, Plan, corrupt, wallet_id};
use crate::ledger::{
    Backend, Ledger, LedgerError, MAX_WALLET_BALANCE_CENTS, balance_from_row, check_amount,
    company_account, idempotency_key, wallet_account,
};

/// One employee's funding in a batch, as written.
struct FundingRow {
    wallet: String,
    key: String,
    amount: Money,
    fingerprint: String,
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

impl Ledger {
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
            Err(BatchError::Raced) => self.fund_batch(plan, request_id, fundings, now).await,
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
                return Err(BatchError::Raced);
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
            let would_be = balance.after_credit(row.amount.cents());
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
}
