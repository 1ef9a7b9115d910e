-- When each request id was recorded, so request ids past the retention window
-- (retention.request_ids_hours) can be forgotten. Rows recorded before this migration count
-- from the moment it runs.
ALTER TABLE booking_requests ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE slot_requests ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
UPDATE booking_requests SET created_at = EXTRACT(EPOCH FROM now())::BIGINT;
UPDATE slot_requests SET created_at = EXTRACT(EPOCH FROM now())::BIGINT;
CREATE INDEX booking_requests_by_time ON booking_requests (created_at);
CREATE INDEX slot_requests_by_time ON slot_requests (created_at);
