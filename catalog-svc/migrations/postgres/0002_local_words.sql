-- The Ambito's local words: curators' own words for kinds of service and phrases for
-- situations (welfare-core's local_words), read by search beside the taxonomy's. A phrase is
-- stored folded; `kind` and `code` say what it means. Every change writes an outbox row of
-- topic 'local_word' (the audit: who, when, before and after).

CREATE TABLE local_words (
    phrase TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('service', 'situation')),
    code TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version > 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE outbox DROP CONSTRAINT outbox_topic_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_topic_check
    CHECK (topic IN ('provider', 'listing', 'local_word'));
