-- The Ambito's local words: curators' own words for kinds of service and phrases for
-- situations (welfare-core's local_words), read by search beside the taxonomy's. A phrase is
-- stored folded; `kind` and `code` say what it means. Every change writes an outbox row of
-- topic 'local_word' (the audit: who, when, before and after).

CREATE TABLE local_words (
    phrase TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('service', 'situation')),
    code TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- SQLite cannot change a CHECK constraint: the outbox is rebuilt with the new topic, its rows
-- and its sequence (numbers are never reused) carried over.
CREATE TABLE outbox_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL CHECK (topic IN ('provider', 'listing', 'local_word')),
    entity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO outbox_new (seq, topic, entity_id, kind, payload, created_at)
    SELECT seq, topic, entity_id, kind, payload, created_at FROM outbox;
DELETE FROM sqlite_sequence WHERE name = 'outbox_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbox_new', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
