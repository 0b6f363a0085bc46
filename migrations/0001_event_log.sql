-- The event log (SPEC §3): one append-only table holding every change as an event.
--
-- position        global position, assigned at insert (NOT the read order: see below)
-- epoch           the store's epoch when the event was written. A logical restore
--                 (pg_dump) sets transaction ids back; the store then begins a new epoch
--                 (guarantee G6), so the read order stays monotonic across a restore.
-- transaction_id  the inserting transaction (xid8). Readers follow the log in
--                 (epoch, transaction_id, position) order and, in the current epoch, only
--                 below pg_snapshot_xmin(pg_current_snapshot()), so a transaction that
--                 commits late is never skipped (guarantee G4).
-- stream_id       'article-<uuid>' or 'annotation-<uuid>'
-- stream_revision 1-based, per stream; (stream_id, stream_revision) is the primary key,
--                 which is what makes optimistic concurrency (G2) safe.
-- event_id        chosen by the client, unique for the life of the store (G3)
-- article_id      the article an event belongs to (annotation events included), so the
--                 sync endpoint can filter by article with an index.
CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY,
    epoch           integer NOT NULL DEFAULT 1 CHECK (epoch >= 1),
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text NOT NULL,
    stream_revision bigint NOT NULL CHECK (stream_revision >= 1),
    event_id        uuid NOT NULL,
    event_type      text NOT NULL CHECK (event_type <> ''),
    schema_version  integer NOT NULL DEFAULT 1 CHECK (schema_version >= 1),
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    article_id      uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_revision_key PRIMARY KEY (stream_id, stream_revision),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_position_key UNIQUE (position)
);

COMMENT ON TABLE events IS 'Folio event log: append-only (see migration 0002).';

-- The read order of every subscriber.
CREATE INDEX events_read_order ON events (epoch, transaction_id, position);

-- The sync endpoint's filter by article, in read order.
CREATE INDEX events_article_read_order ON events (article_id, epoch, transaction_id, position)
    WHERE article_id IS NOT NULL;
