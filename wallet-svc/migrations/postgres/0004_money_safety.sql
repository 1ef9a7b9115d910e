-- Money safety: ids the server assigns, idempotency keys scoped to their tenant and kept apart
-- from ids, the ledger's own order, and settlement that leaves pending holds alone.

-- Plans get a UUID; (company, request id) is the idempotency key of CreatePlan.
ALTER TABLE plans ADD COLUMN request_id TEXT;
UPDATE plans SET request_id = id;
ALTER TABLE plans ALTER COLUMN request_id SET NOT NULL;
CREATE UNIQUE INDEX plans_request ON plans (company_id, request_id);
-- Set by the year-end settlement: the plan receiving carried-over balances, for credit a hold
-- gives back after the settlement.
ALTER TABLE plans ADD COLUMN next_plan_id TEXT;

-- Transfers get a UUID; the idempotency key (built by the service from the tenant and the
-- caller's request id, without ambiguity) is a column of its own.
ALTER TABLE transfers ADD COLUMN idempotency_key TEXT;
UPDATE transfers SET idempotency_key = id;
ALTER TABLE transfers ALTER COLUMN idempotency_key SET NOT NULL;
CREATE UNIQUE INDEX transfers_idempotency ON transfers (idempotency_key);

-- The ledger's sequence: the order in which transfers were written (statements follow it, not
-- the clock). Every transfer touching a wallet is inserted after that wallet's row is updated,
-- under its row lock, so for one wallet the sequence is the order of its balance changes.
ALTER TABLE transfers ADD COLUMN seq BIGSERIAL;
CREATE INDEX transfers_debit_seq ON transfers (debit_account, seq);
CREATE INDEX transfers_credit_seq ON transfers (credit_account, seq);
-- They serve every lookup by account the (account, created_at) indexes served.
DROP INDEX transfers_debit;
DROP INDEX transfers_credit;

-- The two hot functions, rewritten: the idempotency key is checked first, the balances change
-- next, and the transfer is written last (its sequence taken under the wallet's row lock). A
-- concurrent call with the same key that got there first raises `ledger:raced`, which undoes
-- this call; the caller then finds the first call's transfer.
DROP FUNCTION ledger_hold(TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, INTEGER, BIGINT, TEXT, BIGINT);
DROP FUNCTION ledger_resolve(TEXT, TEXT, TEXT, TEXT, TEXT, BIGINT, BIGINT, BIGINT, BIGINT, TEXT, TEXT, TEXT, TEXT, BIGINT);

-- Answers 'created', 'existing:<hold id>' or 'reused'; raises on a refusal.
CREATE FUNCTION ledger_hold(
    p_id TEXT, p_key TEXT, p_wallet TEXT, p_amount BIGINT, p_expires BIGINT, p_category TEXT,
    p_letter TEXT, p_booking TEXT, p_fringe_year INTEGER, p_fringe_ceiling BIGINT,
    p_fingerprint TEXT, p_now BIGINT
) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    v_employee TEXT;
    v_company TEXT;
    v_existing TEXT;
    v_print TEXT;
BEGIN
    SELECT id, fingerprint INTO v_existing, v_print FROM transfers WHERE idempotency_key = p_key;
    IF FOUND THEN
        IF v_print = p_fingerprint THEN
            RETURN 'existing:' || v_existing;
        END IF;
        RETURN 'reused';
    END IF;
    UPDATE wallets SET debits_pending = debits_pending + p_amount
    WHERE id = p_wallet AND credits_posted - debits_posted - debits_pending >= p_amount
    RETURNING employee_id, company_id INTO v_employee, v_company;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger:insufficient_funds';
    END IF;
    IF p_fringe_year IS NOT NULL THEN
        INSERT INTO fringe_usage (employee_id, company_id, year, ceiling_cents)
        VALUES (v_employee, v_company, p_fringe_year, p_fringe_ceiling)
        ON CONFLICT DO NOTHING;
        UPDATE fringe_usage SET used_cents = used_cents + p_amount
        WHERE employee_id = v_employee AND company_id = v_company AND year = p_fringe_year
          AND used_cents + p_amount <= ceiling_cents;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger:fringe_ceiling';
        END IF;
    END IF;
    INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at)
    VALUES (p_id, p_key, 'hold', 'wallet:' || p_wallet, 'providers', p_amount, p_id, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger:raced';
    END IF;
    INSERT INTO holds (id, wallet_id, amount, state, expires_at, category, tax_letter, booking_id, fringe_year)
    VALUES (p_id, p_wallet, p_amount, 'pending', p_expires, p_category, p_letter, p_booking, p_fringe_year);
    RETURN 'created';
END
$$;

-- Answers 'created', 'existing' or 'reused'; raises on a refusal.
CREATE FUNCTION ledger_resolve(
    p_id TEXT, p_key TEXT, p_kind TEXT, p_hold TEXT, p_wallet TEXT, p_state TEXT, p_amount BIGINT,
    p_held BIGINT, p_captured BIGINT, p_released BIGINT, p_deadline TEXT, p_fingerprint TEXT,
    p_rest_id TEXT, p_rest_key TEXT, p_rest_fingerprint TEXT, p_now BIGINT
) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    v_print TEXT;
BEGIN
    SELECT fingerprint INTO v_print FROM transfers WHERE idempotency_key = p_key;
    IF FOUND THEN
        IF v_print = p_fingerprint THEN
            RETURN 'existing';
        END IF;
        RETURN 'reused';
    END IF;
    -- Captures and releases before the deadline; the sweeper's expiry after it.
    UPDATE holds SET state = p_state, captured = p_captured, released = p_released
    WHERE id = p_hold AND state = 'pending'
      AND ((p_deadline = 'passed' AND expires_at <= p_now)
           OR (p_deadline = 'not_passed' AND expires_at > p_now));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger:not_resolvable';
    END IF;
    UPDATE wallets SET debits_pending = debits_pending - p_held, debits_posted = debits_posted + p_captured
    WHERE id = p_wallet;
    IF p_released > 0 THEN
        UPDATE fringe_usage f SET used_cents = f.used_cents - p_released
        FROM holds h JOIN wallets w ON w.id = h.wallet_id
        WHERE h.id = p_hold AND h.fringe_year IS NOT NULL
          AND f.employee_id = w.employee_id AND f.company_id = w.company_id AND f.year = h.fringe_year;
    END IF;
    INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at)
    VALUES (p_id, p_key, p_kind, 'wallet:' || p_wallet, 'providers', p_amount, p_hold, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger:raced';
    END IF;
    IF p_rest_id IS NOT NULL THEN
        INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at)
        VALUES (p_rest_id, p_rest_key, 'release', 'wallet:' || p_wallet, 'providers', p_released, p_hold, p_rest_fingerprint, p_now);
    END IF;
    RETURN 'created';
END
$$;
