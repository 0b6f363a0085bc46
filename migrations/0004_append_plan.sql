-- folio_append, same contract as in 0003, with two fixes found by profiling the backend
-- (docs/performance.md):
--
-- 1. The per-event lookup by event id is a LATERAL subquery with LIMIT 1. Without the LIMIT
--    the planner flattened it into an ordinary join; under plan_cache_mode=force_generic_plan
--    the one plan a session makes is made on its first call, and a session that started on a
--    small log kept a plan that read the whole event-id index on every call, so appends got
--    slower as the log grew.
-- 2. The input arrays are read with one multi-argument unnest instead of p_x[k] subscripts.
--
-- CREATE OR REPLACE keeps the function's owner and grants; its SET options are restated.

CREATE OR REPLACE FUNCTION folio_append(
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
        -- One pass over the arrays (subscripting each element would walk the array again).
        SELECT u.k, u.request, u.stream_id, u.event_id, u.event_type, u.schema_version, u.data, u.metadata,
               u.article_id, u.expected
          FROM unnest(p_requests, p_stream_ids, p_event_ids, p_types, p_schema_versions, p_data, p_metadata,
                      p_article_ids, p_expected)
               WITH ORDINALITY AS u(request, stream_id, event_id, event_type, schema_version, data, metadata,
                                    article_id, expected, k)
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
          -- One index probe per event. LIMIT 1 keeps the planner from flattening the LATERAL
          -- subquery into a join: a plan made while the log was small then scanned the whole
          -- event-id index on every call (migration 0004).
          LEFT JOIN LATERAL (
              SELECT x.event_id, x.event_type, x.data, x.stream_revision, x.position, x.epoch, x.transaction_id, x.recorded_at
                FROM events AS x
               WHERE x.event_id = i.event_id
               LIMIT 1
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

