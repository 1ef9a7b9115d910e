-- The catalogue: providers, their listings, the requests already answered (idempotency) and the
-- outbox of changes that the search index consumes. Times are unix seconds; a listing's content
-- is the JSON of welfare-core's ListingContent, with the columns filters need beside it.

CREATE TABLE providers (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    runts_number TEXT NOT NULL,
    comune_istat_code TEXT NOT NULL,
    tax_code TEXT NOT NULL UNIQUE,
    contact_email TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    website_url TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'suspended')),
    state_reason TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version > 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX providers_by_status ON providers (status, id);

CREATE TABLE listings (
    id TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES providers (id),
    status TEXT NOT NULL CHECK (
        status IN ('draft', 'submitted', 'published', 'rejected', 'suspended', 'withdrawn')
    ),
    state_reason TEXT NOT NULL,
    category TEXT NOT NULL,
    subcategory TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    verified_at BIGINT,
    version BIGINT NOT NULL CHECK (version > 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX listings_by_provider ON listings (provider_id, id);
CREATE INDEX listings_by_status ON listings (status, id);
CREATE INDEX listings_by_category ON listings (category, id);

CREATE TABLE requests (
    principal TEXT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    request BYTEA NOT NULL,
    response BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (principal, request_id)
);

CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    topic TEXT NOT NULL CHECK (topic IN ('provider', 'listing')),
    entity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
