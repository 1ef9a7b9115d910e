-- Request ids are forgotten by age (retention.request_ids_hours): found by their time.
CREATE INDEX requests_by_time ON requests (created_at);
