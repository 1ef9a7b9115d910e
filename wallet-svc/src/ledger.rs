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
use welfare_runtime::uuid::new_uuid;
use welfare_storage::{Settings, SqliteWriters};

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

/// A wallet's balances from a row with its three columns.
pub fn balance_from_row(row: &AnyRow) -> Result<Balance, LedgerError> {
    Ok(Balance {
        credits_posted: row.try_get("credits_posted")?,
        debits_posted: row.try_get("debits_posted")?,
        debits_pending: row.try_get("debits_pending")?,
    })
}

fn money(row: &AnyRow, column: &str) -> Result<Money, LedgerError> {
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

/// The message of a refusal raised by a ledger function, if `error` is one.
fn raised(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) => db.message().strip_prefix("ledger:"),
        _ => None,
    }
}

/// Which side of its deadline a hold must be on to be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// Captures and releases: before the deadline.
    NotPassed,
    /// The sweeper's expiry: after it.
    Passed,
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

/// The balance a wallet would have after `change` cents more credit, if within the maximum.
fn over_limit(balance: &Balance, change: i64) -> Option<i64> {
    let would_be = balance
        .credits_posted
        .saturating_sub(balance.debits_posted)
        .saturating_add(change);
    (would_be > MAX_WALLET_BALANCE_CENTS).then_some(would_be)
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

    /// Credits a wallet from its company's funding account for the plan; refused, changing
    /// nothing, when the wallet's balance would pass [`MAX_WALLET_BALANCE_CENTS`].
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
                would_be: over_limit(&balance, amount.cents()).unwrap_or(MAX_WALLET_BALANCE_CENTS),
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

    /// Places a pending hold: refused, changing nothing, when the wallet lacks the funds.
    pub async fn hold(&self, hold: &NewHold, now: i64) -> Result<Outcome<Hold>, LedgerError> {
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
            "INSERT INTO holds (id, wallet_id, amount, state, expires_at, category, tax_letter, booking_id, fringe_year) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8)",
        )
        .bind(&hold.id)
        .bind(&hold.wallet_id)
        .bind(hold.amount.cents())
        .bind(hold.expires_at)
        .bind(&hold.category)
        .bind(&hold.tax_letter)
        .bind(hold.booking_id.as_deref())
        .bind(hold.fringe.map(|f| f.year))
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
            "SELECT ledger_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    async fn uncharge_fringe(
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

    /// Captures `amount` of a pending hold (the whole hold when `None`); the rest is released.
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
        self.resolve(
            key,
            current,
            HoldState::Captured,
            capture,
            &fingerprint,
            now,
            Deadline::NotPassed,
        )
        .await
    }

    /// Releases a pending hold whole.
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
    pub async fn release_hold(
        &self,
        key: &str,
        current: &Hold,
        now: i64,
    ) -> Result<Outcome<Hold>, LedgerError> {
        check_key(key)?;
        let fingerprint = format!("release|{}", current.id);
        self.resolve(
            key,
            current,
            HoldState::Released,
            Money::ZERO,
            &fingerprint,
            now,
            Deadline::NotPassed,
        )
        .await
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
        Ok(expired)
    }

    /// Expires a pending hold past its deadline; `false` when it was no longer pending
    /// (captured or released meanwhile, or already expired by another sweeper).
    async fn expire_hold(&self, hold_id: &str, now: i64) -> Result<bool, LedgerError> {
        let current = self.get_hold(hold_id).await?;
        // Derived from the hold, so concurrent sweepers write the same transfer at most once.
        let key = idempotency_key(&["expire", hold_id]);
        let fingerprint = format!("expire|{hold_id}");
        match self
            .resolve(
                &key,
                &current,
                HoldState::Expired,
                Money::ZERO,
                &fingerprint,
                now,
                Deadline::Passed,
            )
            .await
        {
            Ok(outcome) => Ok(outcome.is_created()),
            Err(LedgerError::HoldNotPending { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Gives back part of a capture to the wallet, as a new transfer.
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

    /// A wallet's stored balances.
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

    /// A hold as stored.
    pub async fn get_hold(&self, hold_id: &str) -> Result<Hold, LedgerError> {
        let row = sqlx::query(
            "SELECT id, wallet_id, amount, captured, released, refunded, state, expires_at, category, tax_letter, booking_id, fringe_year \
             FROM holds WHERE id = $1",
        )
        .bind(hold_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| LedgerError::HoldNotFound(hold_id.to_owned()))?;
        let state: String = row.try_get("state")?;
        Ok(Hold {
            id: row.try_get("id")?,
            wallet_id: row.try_get("wallet_id")?,
            amount: money(&row, "amount")?,
            captured: money(&row, "captured")?,
            released: money(&row, "released")?,
            refunded: money(&row, "refunded")?,
            state: HoldState::parse(&state)?,
            expires_at: row.try_get("expires_at")?,
            category: row.try_get("category")?,
            tax_letter: row.try_get("tax_letter")?,
            booking_id: row.try_get("booking_id")?,
            fringe_year: row.try_get("fringe_year")?,
        })
    }

    /// Recomputes every wallet's balances from the transfers and checks the ledger's
    /// invariants; used by the tests and by operators after an incident.
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
