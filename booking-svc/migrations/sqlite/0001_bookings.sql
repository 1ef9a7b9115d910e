-- Slots, bookings with their saga state, the transitions' request ids and the booking outbox.
-- Times are Unix seconds, money BIGINT cents.

CREATE TABLE slots (
    id TEXT PRIMARY KEY,
    listing_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    capacity BIGINT NOT NULL CHECK (capacity > 0),
    -- Seats taken by pending, HELD and CONFIRMED bookings: never more than the capacity.
    reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= capacity),
    -- Set when the provider cancelled the slot.
    cancel_reason TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX slots_by_listing ON slots (listing_id, start_at, id);

-- CreateSlots' request ids: a retry answers the same slots.
CREATE TABLE slot_requests (
    caller TEXT NOT NULL,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    slot_ids TEXT NOT NULL,
    PRIMARY KEY (caller, request_id)
);

CREATE TABLE bookings (
    id TEXT PRIMARY KEY,
    listing_id TEXT NOT NULL,
    slot_id TEXT REFERENCES slots (id),
    provider_id TEXT NOT NULL,
    booker_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    -- pending (saga running), held, confirmed, completed, expired, cancelled, rejected,
    -- no_show, or aborted (the saga gave up before the booking was HELD; never shown).
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL DEFAULT '',
    quote TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    wallet_cents BIGINT NOT NULL,
    wallet_id TEXT,
    hold_id TEXT,
    category TEXT NOT NULL,
    tax_letter TEXT NOT NULL,
    description TEXT NOT NULL,
    policy TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    hold_expire_at BIGINT NOT NULL,
    wallet_hold_expire_at BIGINT NOT NULL,
    auto_complete_at BIGINT NOT NULL,
    fee_cents BIGINT NOT NULL DEFAULT 0,
    -- The wallet step still owed: hold, abort, capture or release; NULL when none.
    settlement TEXT,
    settle_cents BIGINT NOT NULL DEFAULT 0,
    settle_attempts BIGINT NOT NULL DEFAULT 0,
    settle_error TEXT,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (booker_id, request_id)
);
CREATE INDEX bookings_by_booker ON bookings (booker_id, id);
CREATE INDEX bookings_by_provider ON bookings (provider_id, id);
CREATE INDEX bookings_by_slot ON bookings (slot_id);
CREATE INDEX bookings_to_settle ON bookings (settlement) WHERE settlement IS NOT NULL;
CREATE INDEX bookings_by_state ON bookings (state, hold_expire_at);

-- The transitions' request ids, per caller.
CREATE TABLE booking_requests (
    caller TEXT NOT NULL,
    request_id TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    action TEXT NOT NULL,
    PRIMARY KEY (caller, request_id)
);

-- The booking outbox: one row per change a provider learns of, written in the same transaction
-- as the change. Rows are numbered (`seq`) in commit order afterwards, by one numbering step at
-- a time (see the store's `number_events`), so writers never wait on each other for a number
-- and a reader resuming after a number never misses a row numbered later.
CREATE TABLE booking_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq BIGINT UNIQUE,
    booking_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX booking_events_unnumbered ON booking_events (id) WHERE seq IS NULL;
CREATE INDEX booking_events_by_provider ON booking_events (provider_id, seq);
