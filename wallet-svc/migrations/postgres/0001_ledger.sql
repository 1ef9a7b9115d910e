-- The ledger: wallets with stored balances, append-only transfers, two-phase holds.
-- System accounts (company funding, provider payables) have no stored balance row: their
-- balances are derived from transfers, so spending never contends on a shared row.

CREATE TABLE wallets (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    credits_posted BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_posted BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    debits_pending BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    created_at BIGINT NOT NULL,
    CHECK (credits_posted - debits_posted - debits_pending >= 0),
    UNIQUE (plan_id, employee_id)
);

CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    debit_account TEXT NOT NULL,
    credit_account TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    hold_id TEXT,
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX transfers_debit ON transfers (debit_account, created_at);
CREATE INDEX transfers_credit ON transfers (credit_account, created_at);

CREATE TABLE holds (
    id TEXT PRIMARY KEY REFERENCES transfers (id),
    wallet_id TEXT NOT NULL REFERENCES wallets (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    captured BIGINT NOT NULL DEFAULT 0,
    released BIGINT NOT NULL DEFAULT 0,
    refunded BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    category TEXT NOT NULL,
    tax_letter TEXT NOT NULL,
    booking_id TEXT,
    CHECK (captured + released <= amount),
    CHECK (refunded <= captured)
);
CREATE INDEX holds_pending ON holds (expires_at) WHERE state = 'pending';
CREATE INDEX holds_wallet ON holds (wallet_id);
