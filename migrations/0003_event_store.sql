-- The event store (SPEC §3): epochs (G6), the append function (G2, G3, G5), and what the
-- service role needs to run them.

-- Epochs. A logical restore (pg_dump / pg_restore) sets transaction ids back; the store
-- notices at start and begins a new epoch, which is the first key of the read order, so
-- readers never skip events written after the restore, and cursors of an older epoch are
-- refused (must-refetch).
CREATE TABLE folio_epochs (
    epoch         integer PRIMARY KEY CHECK (epoch >= 1),
    started_at    timestamptz NOT NULL DEFAULT now(),
    reason        text NOT NULL,
    -- The largest transaction id in the log, and the server's next one, when it began.
    log_max_xid   xid8,
    server_xid    xid8 NOT NULL
);

INSERT INTO folio_epochs (epoch, reason, log_max_xid, server_xid)
VALUES (1, 'store created', NULL, pg_snapshot_xmax(pg_current_snapshot()));

GRANT SELECT, INSERT ON folio_epochs TO folio_service;

-- Appends batches of events, each atomically, in one statement.
--
-- Input: parallel arrays, one element per event, in order. p_requests[i] numbers the batch
-- (append call) event i belongs to: each batch is accepted or refused on its own, so one
-- statement can carry a whole group commit. Batches of one call must not share streams or
-- event ids (the caller puts such batches into separate calls). p_expected[i] is the revision
-- the stream must have just before event i (0: the stream must not exist yet), or NULL.
-- Output: one row per event, in input order, with a status:
--   appended                 stored now, with its revision and position
--   duplicate                this event id was stored before with the same type and data
--                            (G3): the original revision and position
--   event-id-reused          this id was stored before with another type or data
--   duplicate-in-batch       the same id appears twice in the batch
--   wrong-expected-revision  p_expected did not match; stream_revision is the actual one
--   not-attempted            valid, but another event of its batch failed (G5: nothing
--                            of that batch is stored then)
-- Failures are reported, not raised, so one batch of a group commit cannot fail another.
-- Appends to one stream are serialized by a transaction-level advisory lock per stream
-- (taken in sorted order, so concurrent batches cannot deadlock).
CREATE FUNCTION folio_append(
    p_epoch           integer,
    p_requests        integer[],
    p_stream_ids      text[],
    p_event_ids       uuid[],
    p_types           text[],
    p_schema_versions integer[],
    p_data            jsonb[],
    p_metadata        jsonb[],
    p_article_ids     uuid[],
    p_expected        bigint[]
) RETURNS TABLE (
    event_id        uuid,
    status          text,
    stream_id       text,
    stream_revision bigint,
    event_position  bigint,
    epoch           integer,
    transaction_id  xid8,
    recorded_at     timestamptz
)
LANGUAGE plpgsql
-- Planning the statement inside for every call cost more than running it (measured: twice
-- the appends per second with one plan for all calls). That one plan is made early, often
-- while the log is still small, so sequential scans are ruled out: every lookup here is by
-- event id or stream, through an index, however large the log grows. And the planner, which
-- cannot know the arrays' sizes, may guess a cost high enough to JIT-compile the statement,
-- which costs milliseconds.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    IF coalesce(array_length(p_event_ids, 1), 0) = 0 THEN
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended(s.id, 7))
       FROM (SELECT DISTINCT unnest(p_stream_ids) AS id ORDER BY 1) AS s;

    -- One set-based statement (a fresh snapshot, taken after the locks): classify every
    -- event, number the new ones per stream, insert them only if nothing was refused, and
    -- report every event in input order.
    RETURN QUERY
    WITH input AS (
        SELECT k, p_requests[k] AS request, p_stream_ids[k] AS stream_id, p_event_ids[k] AS event_id, p_types[k] AS event_type,
               p_schema_versions[k] AS schema_version, p_data[k] AS data, p_metadata[k] AS metadata,
               p_article_ids[k] AS article_id, p_expected[k] AS expected
          FROM generate_subscripts(p_event_ids, 1) AS k
    ),
    heads AS (
        SELECT s.stream_id,
               coalesce((SELECT max(e.stream_revision) FROM events AS e WHERE e.stream_id = s.stream_id), 0) AS head
          FROM (SELECT DISTINCT i.stream_id FROM input AS i) AS s
    ),
    classified AS (
        SELECT i.*, h.head, e.stream_revision AS old_revision, e.position AS old_position, e.epoch AS old_epoch,
               e.transaction_id AS old_xid, e.recorded_at AS old_time,
               CASE WHEN e.event_id IS NOT NULL THEN
                         CASE WHEN e.event_type = i.event_type AND e.data = i.data THEN 'duplicate' ELSE 'event-id-reused' END
                    WHEN count(*) OVER (PARTITION BY i.event_id) > 1 THEN 'duplicate-in-batch'
                    ELSE 'new'
               END AS kind
          FROM input AS i
          JOIN heads AS h ON h.stream_id = i.stream_id
          -- LATERAL: one index probe per event, whatever the planner guesses about the arrays.
          LEFT JOIN LATERAL (
              SELECT x.event_id, x.event_type, x.data, x.stream_revision, x.position, x.epoch, x.transaction_id, x.recorded_at
                FROM events AS x
               WHERE x.event_id = i.event_id
          ) AS e ON true
    ),
    numbered AS (
        SELECT c.*,
               CASE WHEN c.kind = 'new' THEN
                    c.head + count(*) FILTER (WHERE c.kind = 'new') OVER (PARTITION BY c.stream_id ORDER BY c.k)
               END AS revision
          FROM classified AS c
    ),
    judged AS (
        SELECT nb.*,
               CASE WHEN nb.kind = 'new' AND nb.expected IS NOT NULL AND nb.expected <> nb.revision - 1
                    THEN 'wrong-expected-revision' ELSE nb.kind END AS verdict
          FROM numbered AS nb
    ),
    accepted AS (
        SELECT j.*, bool_and(j.verdict IN ('new', 'duplicate')) OVER (PARTITION BY j.request) AS accept
          FROM judged AS j
    ),
    inserted AS (
        INSERT INTO events (epoch, stream_id, stream_revision, event_id, event_type, schema_version,
                            data, metadata, article_id)
        SELECT p_epoch, a.stream_id, a.revision, a.event_id, a.event_type, a.schema_version,
               a.data, a.metadata, a.article_id
          FROM accepted AS a
         WHERE a.accept AND a.verdict = 'new'
         ORDER BY a.k
        RETURNING events.event_id, events.position, events.epoch, events.transaction_id, events.recorded_at
    )
    SELECT a.event_id,
           CASE WHEN a.verdict <> 'new' THEN a.verdict
                WHEN a.accept THEN 'appended'
                ELSE 'not-attempted' END,
           a.stream_id,
           CASE WHEN a.verdict = 'new' AND a.accept THEN a.revision
                WHEN a.verdict = 'duplicate' THEN a.old_revision
                WHEN a.verdict = 'wrong-expected-revision' THEN a.revision - 1
           END,
           coalesce(ins.position, a.old_position),
           coalesce(ins.epoch, a.old_epoch),
           coalesce(ins.transaction_id, a.old_xid),
           coalesce(ins.recorded_at, a.old_time)
      FROM accepted AS a
      LEFT JOIN inserted AS ins ON ins.event_id = a.event_id AND a.verdict = 'new'
     ORDER BY a.k;
END;
$$;

COMMENT ON FUNCTION folio_append IS 'Appends a batch of events atomically; see migration 0003.';

-- The age of the oldest open transaction is exported as a metric; reading other sessions'
-- transaction start times needs pg_read_all_stats.
DO $$
BEGIN
    IF NOT pg_has_role('folio_service', 'pg_read_all_stats', 'MEMBER') THEN
        GRANT pg_read_all_stats TO folio_service;
    END IF;
EXCEPTION
    -- Membership is cluster-wide: another database's migration granted it at the same moment.
    WHEN unique_violation OR duplicate_object THEN NULL;
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'folio_service was not granted pg_read_all_stats; the oldest-transaction metric will only see its own sessions';
END
$$;
