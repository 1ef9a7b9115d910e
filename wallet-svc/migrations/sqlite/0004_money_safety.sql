-- Money safety: ids the server assigns, idempotency keys scoped to their tenant and kept apart
-- from ids, the ledger's own order, and settlement that leaves pending holds alone.

-- Plans get a UUID; (company, request id) is the idempotency key of CreatePlan.
ALTER TABLE plans ADD COLUMN request_id TEXT;
UPDATE plans SET request_id = id;
CREATE UNIQUE INDEX plans_request ON plans (company_id, request_id);
-- Set by the year-end settlement: the plan receiving carried-over balances, for credit a hold
-- gives back after the settlement.
ALTER TABLE plans ADD COLUMN next_plan_id TEXT;

-- Transfers get a UUID; the idempotency key (built by the service from the tenant and the
-- caller's request id, without ambiguity) is a column of its own.
ALTER TABLE transfers ADD COLUMN idempotency_key TEXT;
UPDATE transfers SET idempotency_key = id;
CREATE UNIQUE INDEX transfers_idempotency ON transfers (idempotency_key);

-- The ledger's sequence: the order in which transfers were written (statements follow it,
-- not the clock). SQLite has one writer: the row id is that order.
ALTER TABLE transfers ADD COLUMN seq INTEGER;
UPDATE transfers SET seq = rowid;
CREATE TRIGGER transfers_seq AFTER INSERT ON transfers
BEGIN
    UPDATE transfers SET seq = NEW.rowid WHERE rowid = NEW.rowid;
END;
CREATE INDEX transfers_debit_seq ON transfers (debit_account, seq);
CREATE INDEX transfers_credit_seq ON transfers (credit_account, seq);
-- They serve every lookup by account the (account, created_at) indexes served.
DROP INDEX transfers_debit;
DROP INDEX transfers_credit;
