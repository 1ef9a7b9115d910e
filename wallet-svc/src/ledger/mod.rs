//! The double-entry ledger, shaped like TigerBeetle's: wallets with posted and pending
//! balances; append-only transfers, each with a UUID of its own and the idempotency key of the
//! call that wrote it (same key and fields: the existing result, as success; same key, other
//! fields: `IdReused`); two-phase holds that are captured in full or in part (the rest
//! released), released, or expired at their deadline; refunds as new transfers.
//!
//! Keys are opaque here: the service builds them with [`idempotency_key`] from the tenant the
//! call acts on and the caller's request id, so one tenant can never collide with another.
//! Every amount is at most [`MAX_TRANSFER_CENTS`] and a wallet's balance at most
//! [`MAX_WALLET_BALANCE_CENTS`], checked before anything is written; balances are read as
//! plain integers, so no stored state can make a read fail. A transfer touching a wallet is
//! written after the wallet's row is updated, so the ledger's sequence (`transfers.seq`) is the
//! order of each wallet's balance changes, and statements follow it.
//!
//! One implementation serves PostgreSQL and SQLite through sqlx's `Any` driver: the SQL is the
//! subset both speak, and each backend has its own migrations. On PostgreSQL the two hottest
//! operations, placing and resolving a hold, run as one call of a PL/pgSQL function each
//! (`migrations/postgres/0003_ledger_functions.sql`) doing exactly what the multi-statement
//! transactions here do on SQLite; the same conformance suite runs against both. Concurrency without a global
//! lock: every balance change is a conditional single-row `UPDATE` (the condition re-checked
//! under the row lock), every hold resolves through a conditional update of its own row, and
//! system accounts (company funding, provider payables) keep no stored balance row, so no
//! spending transaction touches a shared row.

use std::fmt::Write as _;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use welfare_core::Money;
use welfare_storage::{Settings, SqliteWriters};

mod holds;
mod resolve;
mod transfers;

/// The longest a caller-chosen id may be at the API, in bytes.
pub const MAX_ID_BYTES: usize = 64;
/// The longest idempotency key the ledger stores, in bytes: room for a few ids and a request id.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest single amount the ledger moves (a funding, a hold, a capture, a refund):
/// EUR 100,000.00.
pub const MAX_TRANSFER_CENTS: i64 = 10_000_000;
/// The largest balance (credited and not spent, pending included) funding or carry-over may
/// bring a wallet to: EUR 1,000,000.00.
pub const MAX_WALLET_BALANCE_CENTS: i64 = 100_000_000;
/// The most holds one expiry sweep settles.
pub const MAX_EXPIRY_BATCH: i64 = 1_000;

/// Which database the ledger runs on.
pub use welfare_storage::Backend;

/// Why a ledger operation was refused or failed. Every refusal changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("wallet {0} not found")]
    WalletNotFound(String),
    #[error("hold {0} not found")]
    HoldNotFound(String),
    #[error("plan {0} not found")]
    PlanNotFound(String),
    #[error("plan {plan_id} is spendable until {expires_on}: it can be settled from the day after")]
    PlanNotExpired {
        plan_id: String,
        expires_on: welfare_core::time::Date,
    },
    #[error("the request id was already used with different fields (key {0})")]
    IdReused(String),
    #[error("insufficient funds: {available} available, {requested} requested")]
    InsufficientFunds { available: Money, requested: Money },
    #[error("hold {id} is {state}, not pending")]
    HoldNotPending { id: String, state: String },
    #[error("hold {0} expired")]
    HoldExpired(String),
    #[error("capture of {requested} exceeds the hold of {held}")]
    CaptureExceedsHold { held: Money, requested: Money },
    #[error(
        "the spend of {requested} would cross the fringe-benefit ceiling of {ceiling} ({used} already used)"
    )]
    FringeCeiling {
        ceiling: Money,
        used: Money,
        requested: Money,
    },
    #[error(
        "the wallet's balance would reach {would_be} cents, above the maximum of {MAX_WALLET_BALANCE_CENTS}"
    )]
    WalletLimit { wallet_id: String, would_be: i64 },
    #[error("refund of {requested} exceeds what is left to refund ({refundable})")]
    RefundExceedsCapture { refundable: Money, requested: Money },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database could not be opened (its URL, the server, a migration).
    #[error(transparent)]
    Connect(#[from] welfare_storage::connect::ConnectError),
}

impl LedgerError {
    /// The stable reason code of the contract.
    pub fn reason(&self) -> &'static str {
        match self {
            LedgerError::Invalid { .. } => "INVALID_ARGUMENT",
            LedgerError::WalletNotFound(_) => "WALLET_NOT_FOUND",
            LedgerError::HoldNotFound(_) => "HOLD_NOT_FOUND",
            LedgerError::PlanNotFound(_) => "PLAN_NOT_FOUND",
            LedgerError::PlanNotExpired { .. } => "PLAN_NOT_EXPIRED",
            LedgerError::IdReused(_) => "REQUEST_ID_REUSED",
            LedgerError::InsufficientFunds { .. } => "INSUFFICIENT_FUNDS",
            LedgerError::HoldNotPending { .. } => "HOLD_NOT_PENDING",
            LedgerError::HoldExpired(_) => "HOLD_EXPIRED",
            LedgerError::CaptureExceedsHold { .. } => "CAPTURE_EXCEEDS_HOLD",
            LedgerError::RefundExceedsCapture { .. } => "REFUND_EXCEEDS_CAPTURE",
            LedgerError::FringeCeiling { .. } => "FRINGE_BENEFIT_CEILING",
            LedgerError::WalletLimit { .. } => "WALLET_BALANCE_LIMIT",
            LedgerError::Database(_) | LedgerError::Connect(_) => "INTERNAL",
        }
    }
}

/// Whether an operation created something or found it already done (a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Created(T),
    Existing(T),
}

impl<T> Outcome<T> {
    pub fn into_inner(self) -> T {
        match self {
            Outcome::Created(value) | Outcome::Existing(value) => value,
        }
    }

    pub fn is_created(&self) -> bool {
        matches!(self, Outcome::Created(_))
    }
}

/// A wallet's balances in cents, as stored: cumulative totals, read as plain integers so that
/// no stored total can make a read fail. `available = credits_posted - debits_posted -
/// debits_pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub credits_posted: i64,
    pub debits_posted: i64,
    pub debits_pending: i64,
}

/// Cents as money, for figures the ledger's limits keep in range; a figure out of range (only
/// possible in a database written around the ledger) is shown at the nearest bound.
pub fn clamped(cents: i64) -> Money {
    let bound = welfare_core::money::MAX_AMOUNT_CENTS;
    Money::from_cents(cents.clamp(-bound, bound)).unwrap_or(Money::ZERO)
}

impl Balance {
    /// What can be spent now. Never negative: the database refuses any change that would make
    /// it so.
    pub fn available(&self) -> Money {
        clamped(
            self.credits_posted
                .saturating_sub(self.debits_posted)
                .saturating_sub(self.debits_pending),
        )
    }

    /// Held for bookings not yet settled.
    pub fn pending(&self) -> Money {
        clamped(self.debits_pending)
    }

    /// The balance (credited and not spent, pending included) after `cents` more credit: what
    /// [`MAX_WALLET_BALANCE_CENTS`] bounds.
    pub fn after_credit(&self, cents: i64) -> i64 {
        self.credits_posted
            .saturating_sub(self.debits_posted)
            .saturating_add(cents)
    }

    /// Captured, in total.
    pub fn posted_debits(&self) -> Money {
        clamped(self.debits_posted)
    }
}

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    Pending,
    Captured,
    Released,
    Expired,
}

impl HoldState {
    pub const fn code(self) -> &'static str {
        match self {
            HoldState::Pending => "pending",
            HoldState::Captured => "captured",
            HoldState::Released => "released",
            HoldState::Expired => "expired",
        }
    }

    fn parse(code: &str) -> Result<HoldState, LedgerError> {
        Ok(match code {
            "pending" => HoldState::Pending,
            "captured" => HoldState::Captured,
            "released" => HoldState::Released,
            "expired" => HoldState::Expired,
            other => {
                return Err(LedgerError::Database(sqlx::Error::Protocol(format!(
                    "unknown hold state {other:?}"
                ))));
            }
        })
    }
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: String,
    pub wallet_id: String,
    pub amount: Money,
    pub captured: Money,
    pub released: Money,
    pub refunded: Money,
    pub state: HoldState,
    pub expires_at: i64,
    pub category: String,
    pub tax_letter: String,
    pub booking_id: Option<String>,
    /// The tax year whose fringe-benefit ceiling the hold counts against (c.3 plans only).
    pub fringe_year: Option<i32>,
    /// The provider its captured credit is owed to.
    pub provider_id: Option<String>,
}

/// A wallet to open for an employee in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWallet {
    pub id: String,
    pub company_id: String,
    pub plan_id: String,
    pub employee_id: String,
}

/// A hold to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    /// The hold's id (a new UUID at the service), which is also its hold transfer's id.
    pub id: String,
    /// The idempotency key of the call placing it: a retry finds the hold first placed.
    pub key: String,
    pub wallet_id: String,
    pub amount: Money,
    pub expires_at: i64,
    pub category: String,
    pub tax_letter: String,
    pub booking_id: Option<String>,
    /// For holds on art. 51 c.3 plans: the tax year and the employee's ceiling.
    pub fringe: Option<FringeCharge>,
    /// The provider the captured credit will be owed to.
    pub provider_id: Option<String>,
}

impl NewHold {
    /// The hold as it stands once placed: pending, nothing captured or released.
    fn placed(&self) -> Hold {
        Hold {
            id: self.id.clone(),
            wallet_id: self.wallet_id.clone(),
            amount: self.amount,
            captured: Money::ZERO,
            released: Money::ZERO,
            refunded: Money::ZERO,
            state: HoldState::Pending,
            expires_at: self.expires_at,
            category: self.category.clone(),
            tax_letter: self.tax_letter.clone(),
            booking_id: self.booking_id.clone(),
            fringe_year: self.fringe.map(|f| f.year),
            provider_id: self.provider_id.clone(),
        }
    }
}

/// A hold's charge against the employee's yearly fringe-benefit ceiling with their employer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FringeCharge {
    pub year: i32,
    pub ceiling: Money,
}

/// What the invariant check found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvariantReport {
    /// Sum of credits minus debits of posted transfers over all accounts (must be zero).
    pub postings_sum: i64,
    /// Wallets whose stored balances differ from those recomputed from transfers.
    pub mismatched_wallets: Vec<String>,
    /// Wallets with a negative available balance.
    pub negative_wallets: Vec<String>,
    /// Holds whose amounts do not add up for their state.
    pub inconsistent_holds: Vec<String>,
}

impl InvariantReport {
    pub fn holds(&self) -> bool {
        self.postings_sum == 0
            && self.mismatched_wallets.is_empty()
            && self.negative_wallets.is_empty()
            && self.inconsistent_holds.is_empty()
    }
}

/// Account names: a wallet, a company's funding account for a plan, provider payables.
pub fn wallet_account(wallet_id: &str) -> String {
    format!("wallet:{wallet_id}")
}

pub fn company_account(company_id: &str, plan_id: &str) -> String {
    format!("company:{company_id}:{plan_id}")
}

pub const PROVIDER_PAYABLES: &str = "providers";

/// An idempotency key from its parts, without ambiguity: each part is written with its length
/// (`fund|36:…|8:june-pay|5:lucia`), so no two lists of parts give the same key whatever
/// characters the parts hold. The first part names the operation.
pub fn idempotency_key(parts: &[&str]) -> String {
    let mut key = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            key.push_str(part);
        } else {
            let _ = write!(key, "|{}:{part}", part.len());
        }
    }
    key
}

fn check_id(field: &'static str, id: &str) -> Result<(), LedgerError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(LedgerError::Invalid {
            field,
            problem: format!("must be 1 to {MAX_ID_BYTES} printable characters"),
        });
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), LedgerError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(LedgerError::Invalid {
            field: "request_id",
            problem: format!("the idempotency key must be 1 to {MAX_KEY_BYTES} bytes"),
        });
    }
    Ok(())
}

/// Checks an amount the ledger is asked to move: positive, at most [`MAX_TRANSFER_CENTS`].
pub fn check_amount(field: &'static str, amount: Money) -> Result<(), LedgerError> {
    if !amount.is_positive() {
        return Err(LedgerError::Invalid {
            field,
            problem: "must be positive".to_owned(),
        });
    }
    if amount.cents() > MAX_TRANSFER_CENTS {
        return Err(LedgerError::Invalid {
            field,
            problem: format!("must be at most {}", clamped(MAX_TRANSFER_CENTS)),
        });
    }
    Ok(())
}

/// A hold from a row of its table's columns.
fn hold_from_row(row: &AnyRow) -> Result<Hold, LedgerError> {
    let state: String = row.try_get("state")?;
    Ok(Hold {
        id: row.try_get("id")?,
        wallet_id: row.try_get("wallet_id")?,
        amount: money(row, "amount")?,
        captured: money(row, "captured")?,
        released: money(row, "released")?,
        refunded: money(row, "refunded")?,
        state: HoldState::parse(&state)?,
        expires_at: row.try_get("expires_at")?,
        category: row.try_get("category")?,
        tax_letter: row.try_get("tax_letter")?,
        booking_id: row.try_get("booking_id")?,
        fringe_year: row.try_get("fringe_year")?,
        provider_id: row.try_get("provider_id")?,
    })
}

/// A wallet's balances from a row with its three columns.
pub fn balance_from_row(row: &AnyRow) -> Result<Balance, LedgerError> {
    Ok(Balance {
        credits_posted: row.try_get("credits_posted")?,
        debits_posted: row.try_get("debits_posted")?,
        debits_pending: row.try_get("debits_pending")?,
    })
}

/// A stored amount as money; one the ledger's limits could not have written is an error.
pub(crate) fn money(row: &AnyRow, column: &str) -> Result<Money, LedgerError> {
    let cents: i64 = row.try_get(column)?;
    Money::from_cents(cents)
        .map_err(|e| LedgerError::Database(sqlx::Error::Protocol(format!("{column}: {e}"))))
}

/// The ledger over one database.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: AnyPool,
    backend: Backend,
}

/// The message of a refusal raised by a ledger function, if `error` is one.
fn raised(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) => db.message().strip_prefix("ledger:"),
        _ => None,
    }
}

/// Fields of a transfer to insert.
struct TransferRow<'a> {
    id: &'a str,
    key: &'a str,
    kind: &'a str,
    debit: &'a str,
    credit: &'a str,
    amount: Money,
    hold_id: Option<&'a str>,
    fingerprint: &'a str,
    now: i64,
}

/// What an idempotency key's earlier use says.
enum Prior {
    /// Not used yet.
    None,
    /// Used by the same call: the transfer it wrote.
    Retry(String),
}

impl Ledger {
    /// Connects (PostgreSQL or SQLite by URL) and applies the backend's migrations, through
    /// the shared plumbing. On SQLite one connection does everything: a transaction that reads
    /// then writes (a settlement, a funding batch) is serialised whole.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Ledger, LedgerError> {
        let settings = Settings {
            max_connections,
            sqlite_writers: SqliteWriters::One,
        };
        let (pool, backend) = welfare_storage::connect(
            url,
            settings,
            &sqlx::migrate!("migrations/postgres"),
            &sqlx::migrate!("migrations/sqlite"),
        )
        .await?;
        Ok(Ledger { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for reports and operator queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Opens a wallet; opening the same wallet again is a no-op.
    #[tracing::instrument(name = "wallet.ledger.open_wallet", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn open_wallet(
        &self,
        wallet: &NewWallet,
        now: i64,
    ) -> Result<Outcome<String>, LedgerError> {
        check_id("wallet_id", &wallet.id)?;
        let inserted = sqlx::query(
            "INSERT INTO wallets (id, company_id, plan_id, employee_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&wallet.id)
        .bind(&wallet.company_id)
        .bind(&wallet.plan_id)
        .bind(&wallet.employee_id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let row = sqlx::query("SELECT id, company_id, plan_id, employee_id FROM wallets WHERE plan_id = $1 AND employee_id = $2")
            .bind(&wallet.plan_id)
            .bind(&wallet.employee_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| LedgerError::IdReused(wallet.id.clone()))?;
        let id: String = row.try_get("id")?;
        let company: String = row.try_get("company_id")?;
        if id != wallet.id || company != wallet.company_id {
            return Err(LedgerError::IdReused(wallet.id.clone()));
        }
        Ok(if inserted == 1 {
            Outcome::Created(id)
        } else {
            Outcome::Existing(id)
        })
    }

    /// What an earlier use of `key` says: a retry of the same call (same fingerprint), or
    /// `IdReused` when the key was used for something else.
    async fn prior(
        connection: &mut sqlx::AnyConnection,
        key: &str,
        fingerprint: &str,
    ) -> Result<Prior, LedgerError> {
        let row = sqlx::query("SELECT id, fingerprint FROM transfers WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(&mut *connection)
            .await?;
        let Some(row) = row else {
            return Ok(Prior::None);
        };
        let stored: String = row.try_get("fingerprint")?;
        if stored == fingerprint {
            Ok(Prior::Retry(row.try_get("id")?))
        } else {
            Err(LedgerError::IdReused(key.to_owned()))
        }
    }

    /// [`Ledger::prior`] outside a transaction, after a concurrent call with the same key won
    /// the race to write: its transfer's id.
    async fn winner(&self, key: &str, fingerprint: &str) -> Result<String, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        match Ledger::prior(&mut connection, key, fingerprint).await? {
            Prior::Retry(id) => Ok(id),
            Prior::None => Err(LedgerError::Database(sqlx::Error::Protocol(format!(
                "key {key} was raced but holds no transfer"
            )))),
        }
    }

    /// Inserts a transfer; `false` when its key was taken meanwhile by a concurrent call.
    async fn insert_transfer(
        connection: &mut sqlx::AnyConnection,
        row: &TransferRow<'_>,
    ) -> Result<bool, LedgerError> {
        let inserted = sqlx::query(
            "INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(row.id)
        .bind(row.key)
        .bind(row.kind)
        .bind(row.debit)
        .bind(row.credit)
        .bind(row.amount.cents())
        .bind(row.hold_id)
        .bind(row.fingerprint)
        .bind(row.now)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// A wallet's stored balances.
    #[tracing::instrument(name = "wallet.ledger.balance", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn balance(&self, wallet_id: &str) -> Result<Balance, LedgerError> {
        let row = sqlx::query(
            "SELECT credits_posted, debits_posted, debits_pending FROM wallets WHERE id = $1",
        )
        .bind(wallet_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| LedgerError::WalletNotFound(wallet_id.to_owned()))?;
        balance_from_row(&row)
    }

    /// The holds placed for a booking, oldest first (by the ledger's sequence), paged by offset.
    #[tracing::instrument(name = "wallet.ledger.holds_of_booking", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn holds_of_booking(
        &self,
        booking_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Hold>, LedgerError> {
        let rows = sqlx::query(
            "SELECT h.id AS id, h.wallet_id AS wallet_id, h.amount AS amount, h.captured AS captured, \
             h.released AS released, h.refunded AS refunded, h.state AS state, h.expires_at AS expires_at, \
             h.category AS category, h.tax_letter AS tax_letter, h.booking_id AS booking_id, h.fringe_year AS fringe_year, \
             h.provider_id AS provider_id FROM holds h JOIN transfers t ON t.id = h.id WHERE h.booking_id = $1 \
             ORDER BY t.seq LIMIT $2 OFFSET $3",
        )
        .bind(booking_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hold_from_row).collect()
    }

    /// A hold as stored.
    #[tracing::instrument(name = "wallet.ledger.get_hold", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn get_hold(&self, hold_id: &str) -> Result<Hold, LedgerError> {
        let row = sqlx::query(
            "SELECT id, wallet_id, amount, captured, released, refunded, state, expires_at, category, tax_letter, booking_id, fringe_year, \
             provider_id FROM holds WHERE id = $1",
        )
        .bind(hold_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| LedgerError::HoldNotFound(hold_id.to_owned()))?;
        hold_from_row(&row)
    }

    /// What the platform owes a provider from welfare credit: captured and refunded, in cents,
    /// over the holds placed for it.
    #[tracing::instrument(name = "wallet.ledger.provider_payable", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn provider_payable(&self, provider_id: &str) -> Result<(i64, i64), LedgerError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(captured), 0) AS BIGINT) AS captured, \
             CAST(COALESCE(SUM(refunded), 0) AS BIGINT) AS refunded FROM holds WHERE provider_id = $1",
        )
        .bind(provider_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("captured")?, row.try_get("refunded")?))
    }

    /// Recomputes every wallet's balances from the transfers and checks the ledger's
    /// invariants; used by the tests and by operators after an incident.
    #[tracing::instrument(name = "wallet.ledger.check_invariants", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn check_invariants(&self) -> Result<InvariantReport, LedgerError> {
        let mut report = InvariantReport::default();
        let posted_sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(posting), 0) AS BIGINT) FROM ( \
               SELECT amount AS posting FROM transfers WHERE kind IN ('funding', 'capture', 'refund', 'carry_over', 'return') \
               UNION ALL \
               SELECT -amount AS posting FROM transfers WHERE kind IN ('funding', 'capture', 'refund', 'carry_over', 'return') \
             ) AS postings",
        )
        .fetch_one(&self.pool)
        .await?;
        report.postings_sum = posted_sum.unwrap_or_default();
        let rows = sqlx::query(
            "SELECT w.id AS id, w.credits_posted AS credits_posted, w.debits_posted AS debits_posted, w.debits_pending AS debits_pending, \
               CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.credit_account = 'wallet:' || w.id AND t.kind IN ('funding', 'refund', 'carry_over')), 0) AS BIGINT) AS credits_recomputed, \
               CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.debit_account = 'wallet:' || w.id AND t.kind IN ('capture', 'carry_over', 'return')), 0) AS BIGINT) AS debits_recomputed, \
               CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.debit_account = 'wallet:' || w.id AND t.kind = 'hold'), 0) AS BIGINT) \
               - CAST(COALESCE((SELECT SUM(h.captured + h.released) FROM holds h WHERE h.wallet_id = w.id), 0) AS BIGINT) AS pending_recomputed \
             FROM wallets w",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let id: String = row.try_get("id")?;
            let stored = (
                row.try_get::<i64, _>("credits_posted")?,
                row.try_get::<i64, _>("debits_posted")?,
                row.try_get::<i64, _>("debits_pending")?,
            );
            let recomputed = (
                row.try_get::<i64, _>("credits_recomputed")?,
                row.try_get::<i64, _>("debits_recomputed")?,
                row.try_get::<i64, _>("pending_recomputed")?,
            );
            if stored != recomputed {
                report.mismatched_wallets.push(id.clone());
            }
            if stored.0 - stored.1 - stored.2 < 0 {
                report.negative_wallets.push(id);
            }
        }
        report.inconsistent_holds = sqlx::query_scalar(
            "SELECT id FROM holds WHERE \
               (state = 'pending' AND (captured <> 0 OR released <> 0 OR refunded <> 0)) \
               OR (state <> 'pending' AND captured + released <> amount) \
               OR (state <> 'captured' AND refunded <> 0) \
               OR refunded > captured",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(report)
    }
}
