-- Which provider a hold's captured credit is owed to: the sub-ledger of the providers' payable
-- account, read by GetProviderPayable.
ALTER TABLE holds ADD COLUMN provider_id TEXT;
CREATE INDEX holds_provider ON holds (provider_id);
