-- The two hottest ledger operations as functions, so that each costs one round trip on
-- PostgreSQL instead of five. They do exactly what the multi-statement transactions in
-- src/ledger.rs do (and still do on SQLite); a refusal raises, which undoes the whole call.

CREATE FUNCTION ledger_hold(
    p_id TEXT, p_wallet TEXT, p_amount BIGINT, p_expires BIGINT, p_category TEXT, p_letter TEXT,
    p_booking TEXT, p_fringe_year INTEGER, p_fringe_ceiling BIGINT, p_fingerprint TEXT, p_now BIGINT
) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    v_employee TEXT;
    v_company TEXT;
BEGIN
    INSERT INTO transfers (id, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at)
    VALUES (p_id, 'hold', 'wallet:' || p_wallet, 'providers', p_amount, p_id, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM transfers WHERE id = p_id AND fingerprint = p_fingerprint) THEN
            RETURN 'existing';
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
    INSERT INTO holds (id, wallet_id, amount, state, expires_at, category, tax_letter, booking_id, fringe_year)
    VALUES (p_id, p_wallet, p_amount, 'pending', p_expires, p_category, p_letter, p_booking, p_fringe_year);
    RETURN 'created';
END
$$;

CREATE FUNCTION ledger_resolve(
    p_id TEXT, p_kind TEXT, p_hold TEXT, p_wallet TEXT, p_state TEXT, p_amount BIGINT,
    p_held BIGINT, p_captured BIGINT, p_released BIGINT, p_deadline TEXT, p_fingerprint TEXT,
    p_rest_id TEXT, p_rest_fingerprint TEXT, p_now BIGINT
) RETURNS TEXT LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transfers (id, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at)
    VALUES (p_id, p_kind, 'wallet:' || p_wallet, 'providers', p_amount, p_hold, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM transfers WHERE id = p_id AND fingerprint = p_fingerprint) THEN
            RETURN 'existing';
        END IF;
        RETURN 'reused';
    END IF;
    -- Captures and releases before the deadline; the sweeper's expiry after it; year end always.
    UPDATE holds SET state = p_state, captured = p_captured, released = p_released
    WHERE id = p_hold AND state = 'pending'
      AND (p_deadline = 'ignored'
           OR (p_deadline = 'passed' AND expires_at <= p_now)
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
    IF p_rest_id IS NOT NULL THEN
        INSERT INTO transfers (id, kind, debit_account, credit_account, amount, hold_id, fingerprint, created_at)
        VALUES (p_rest_id, 'release', 'wallet:' || p_wallet, 'providers', p_released, p_hold, p_rest_fingerprint, p_now);
    END IF;
    RETURN 'created';
END
$$;
