//! Transfers that credit a wallet: funding from the company's account, and refunds of a
//! capture. Each checks its idempotency key first, changes the balance next, and writes the
//! transfer last.

use sqlx::Row;
use welfare_core::Money;
use welfare_runtime::uuid::new_uuid;

use super::{
    Balance, Hold, HoldState, Ledger, LedgerError, MAX_WALLET_BALANCE_CENTS, Outcome,
    PROVIDER_PAYABLES, Prior, TransferRow, check_amount, check_key, company_account,
    wallet_account,
};

impl Ledger {
    /// Credits a wallet from its company's funding account for the plan; refused, changing
    /// nothing, when the wallet's balance would pass [`MAX_WALLET_BALANCE_CENTS`].
    #[tracing::instrument(name = "wallet.ledger.fund", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn fund(
        &self,
        key: &str,
        wallet_id: &str,
        amount: Money,
        now: i64,
    ) -> Result<Outcome<Balance>, LedgerError> {
        check_key(key)?;
        check_amount("amount", amount)?;
        let fingerprint = format!("fund|{wallet_id}|{}", amount.cents());
        let mut tx = self.pool.begin().await?;
        let wallet = sqlx::query("SELECT company_id, plan_id FROM wallets WHERE id = $1")
            .bind(wallet_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| LedgerError::WalletNotFound(wallet_id.to_owned()))?;
        let company: String = wallet.try_get("company_id")?;
        let plan: String = wallet.try_get("plan_id")?;
        if let Prior::Retry(_) = Ledger::prior(&mut tx, key, &fingerprint).await? {
            tx.rollback().await?;
            return Ok(Outcome::Existing(self.balance(wallet_id).await?));
        }
        let credited = sqlx::query(
            "UPDATE wallets SET credits_posted = credits_posted + $1 \
             WHERE id = $2 AND credits_posted - debits_posted + $1 <= $3",
        )
        .bind(amount.cents())
        .bind(wallet_id)
        .bind(MAX_WALLET_BALANCE_CENTS)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if credited == 0 {
            tx.rollback().await?;
            let balance = self.balance(wallet_id).await?;
            return Err(LedgerError::WalletLimit {
                wallet_id: wallet_id.to_owned(),
                would_be: balance.after_credit(amount.cents()),
            });
        }
        let id = new_uuid();
        let (debit, credit) = (company_account(&company, &plan), wallet_account(wallet_id));
        let row = TransferRow {
            id: &id,
            key,
            kind: "funding",
            debit: &debit,
            credit: &credit,
            amount,
            hold_id: None,
            fingerprint: &fingerprint,
            now,
        };
        if !Ledger::insert_transfer(&mut tx, &row).await? {
            tx.rollback().await?;
            self.winner(key, &fingerprint).await?;
            return Ok(Outcome::Existing(self.balance(wallet_id).await?));
        }
        tx.commit().await?;
        Ok(Outcome::Created(self.balance(wallet_id).await?))
    }

    /// Gives back part of a capture to the wallet, as a new transfer.
    #[tracing::instrument(name = "wallet.ledger.refund", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn refund(
        &self,
        key: &str,
        hold_id: &str,
        amount: Money,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        check_key(key)?;
        check_amount("amount", amount)?;
        let current = self.get_hold(hold_id).await?;
        let fingerprint = format!("refund|{hold_id}|{}", amount.cents());
        let mut tx = self.pool.begin().await?;
        if let Prior::Retry(_) = Ledger::prior(&mut tx, key, &fingerprint).await? {
            tx.rollback().await?;
            return self.get_hold(hold_id).await.map(Outcome::Existing);
        }
        let updated = sqlx::query(
            "UPDATE holds SET refunded = refunded + $1 WHERE id = $2 AND state = 'captured' AND refunded + $1 <= captured",
        )
        .bind(amount.cents())
        .bind(hold_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            let latest = self.get_hold(hold_id).await?;
            if latest.state != HoldState::Captured {
                return Err(LedgerError::HoldNotPending {
                    id: latest.id,
                    state: latest.state.code().to_owned(),
                });
            }
            let refundable = latest
                .captured
                .checked_sub(latest.refunded)
                .unwrap_or(Money::ZERO);
            return Err(LedgerError::RefundExceedsCapture {
                refundable,
                requested: amount,
            });
        }
        sqlx::query("UPDATE wallets SET credits_posted = credits_posted + $1 WHERE id = $2")
            .bind(amount.cents())
            .bind(&current.wallet_id)
            .execute(&mut *tx)
            .await?;
        if current.fringe_year.is_some() {
            Ledger::uncharge_fringe(&mut tx, hold_id, amount).await?;
        }
        let (id, credit) = (new_uuid(), wallet_account(&current.wallet_id));
        let row = TransferRow {
            id: &id,
            key,
            kind: "refund",
            debit: PROVIDER_PAYABLES,
            credit: &credit,
            amount,
            hold_id: Some(hold_id),
            fingerprint: &fingerprint,
            now,
        };
        if !Ledger::insert_transfer(&mut tx, &row).await? {
            tx.rollback().await?;
            self.winner(key, &fingerprint).await?;
            return self.get_hold(hold_id).await.map(Outcome::Existing);
        }
        tx.commit().await?;
        let refunded = self.get_hold(hold_id).await?;
        if let Err(error) = self.settle_if_lapsed(&refunded.wallet_id, now).await {
            tracing::warn!(%error, wallet = %refunded.wallet_id, "settling refunded credit failed");
        }
        Ok(Outcome::Created(refunded))
    }
}
