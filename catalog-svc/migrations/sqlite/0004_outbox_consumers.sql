-- Where each consumer of the outbox is: the highest sequence number it applied, the lower
-- ones it has not seen yet (JSON: {"seq": noticed_at}), and the stamp of the index it applied
-- them to. A shared consumer (a Meilisearch index) keeps its row for as long as it exists; a
-- replica's own in-memory index keeps its row fresh (updated_at) while the replica runs. Outbox rows are
-- pruned only once every consumer is past them (see the catalogue's retention task).
CREATE TABLE outbox_consumers (
    consumer TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    gaps TEXT NOT NULL,
    stamp TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('shared', 'replica')),
    updated_at INTEGER NOT NULL
);
