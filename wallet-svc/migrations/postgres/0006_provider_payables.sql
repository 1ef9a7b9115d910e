-- Which provider a hold's captured credit is owed to: the sub-ledger of the providers' payable
-- account, read by GetProviderPayable.
ALTER TABLE holds ADD COLUMN provider_id TEXT;
CREATE INDEX holds_provider ON holds (provider_id);

-- ledger_hold records the provider with the hold, in the same statement as the rest.
DROP FUNCTION ledger_hold(TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, INTEGER, BIGINT, TEXT, BIGINT);

-- Answers 'created', 'existing:<hold id>' or 'reused'; raises on a refusal.
CREATE FUNCTION ledger_hold(
    p_id TEXT, p_key TEXT, p_wallet TEXT, p_amount BIGINT, p_expires BIGINT, p_category TEXT,
    p_letter TEXT, p_booking TEXT, p_fringe_year INTEGER, p_fringe_ceiling BIGINT,
    p_fingerprint TEXT, p_now BIGINT, p_provider TEXT
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
    INSERT INTO holds (id, wallet_id, amount, state, expires_at, category, tax_letter, booking_id, fringe_year, provider_id)
    VALUES (p_id, p_wallet, p_amount, 'pending', p_expires, p_category, p_letter, p_booking, p_fringe_year, p_provider);
    RETURN 'created';
END
$$;
