-- A lean append path for the common case: events whose id was never stored before.
--
-- folio_append (migrations 0003, 0004) judges every event before it writes anything: an
-- advisory lock per stream, a look-up by event id per event, and a set-based statement with
-- window sorts that numbers, checks and reports each batch. For a group commit of single-event
-- appends almost all of that finds nothing, and profiling showed it costing as much as the
-- insert itself (docs/performance.md, issue 3).
--
-- folio_append_new_events writes first and looks only at what did not go in:
--
-- * revisions come from one index probe per event (the stream's current head, read with the
--   statement's snapshot, so rows of this same statement are not counted) plus p_nth, the
--   event's 1-based place among the events of its stream in this call (the caller computes it;
--   requests of one call never share a stream);
-- * an expected revision (G2) is checked on the row as inserted: it must be the revision just
--   before it (0: the event starts its stream);
-- * no advisory lock: the primary key (stream_id, stream_revision) is what keeps two writers
--   from taking one revision. Revisions are dense, so a row that went in at head + 1 proves
--   the stream was at head when this transaction commits. A writer that loses the race gets
--   unique_violation (23505) on events_stream_revision_key, and nothing of its statement is
--   stored;
-- * ON CONFLICT (event_id) DO NOTHING, then a look-up by event id for the rows that did not go
--   in: the same type and data is a `duplicate` (G3: the original revision and position, its
--   expected revision not checked, as in folio_append), else `event-id-reused`.
--
-- Whenever it cannot give a final answer on its own, the function raises instead, so nothing
-- of the call is stored and the caller writes the whole group again through folio_append,
-- which judges every event and names every reason: SQLSTATE FO002 when an expected revision
-- does not match, when an event stored before belongs to a request of several events (G5: all
-- or nothing, and its other events were numbered as if it went in), or when the stored event
-- it collided with is not visible to this statement (its transaction committed meanwhile);
-- 23505 when another transaction took a revision first. One caller's conflict never fails
-- another's events; it only costs the group a second attempt.
--
-- Contract: p_requests numbers the append calls (as in folio_append); every request of one
-- call has distinct event ids, and no two requests share a stream or an event id. Output: one
-- row per event, `k` its 1-based place in the input (rows may come in any order), status
-- `appended`, `duplicate` or `event-id-reused`.

CREATE FUNCTION folio_append_new_events_refused(p_event_id uuid, p_reason text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'folio_append_new_events cannot judge event %: %', p_event_id, p_reason
        USING ERRCODE = 'FO002',
              HINT = 'retry the append through folio_append';
END;
$$;

CREATE FUNCTION folio_append_new_events(
    p_epoch           integer,
    p_requests        integer[],
    p_nth             integer[],
    p_stream_ids      text[],
    p_event_ids       uuid[],
    p_types           text[],
    p_schema_versions integer[],
    p_data            jsonb[],
    p_metadata        jsonb[],
    p_article_ids     uuid[],
    p_expected        bigint[]
) RETURNS TABLE (
    k               bigint,
    status          text,
    stream_revision bigint,
    event_position  bigint,
    epoch           integer,
    transaction_id  xid8,
    recorded_at     timestamptz
)
LANGUAGE plpgsql
-- As for folio_append (0003): one generic plan per session, made however small the log is
-- then, so every look-up stays an index probe; no JIT.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events (epoch, stream_id, stream_revision, event_id, event_type, schema_version,
                            data, metadata, article_id)
        SELECT p_epoch, u.stream_id,
               u.nth + coalesce((SELECT max(e.stream_revision) FROM events AS e WHERE e.stream_id = u.stream_id), 0),
               u.event_id, u.event_type, u.schema_version, u.data, u.metadata, u.article_id
          FROM unnest(p_nth, p_stream_ids, p_event_ids, p_types, p_schema_versions, p_data, p_metadata, p_article_ids)
               AS u(nth, stream_id, event_id, event_type, schema_version, data, metadata, article_id)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING events.event_id, events.stream_revision, events.position, events.epoch, events.transaction_id,
                  events.recorded_at
    )
    SELECT i.k,
           CASE WHEN ins.event_id IS NOT NULL THEN
                     CASE WHEN i.expected IS NULL OR i.expected = ins.stream_revision - 1 THEN 'appended'
                          ELSE folio_append_new_events_refused(i.event_id, format(
                                   'expected revision %s, the stream is at %s', i.expected, ins.stream_revision - 1))
                     END
                -- Evaluated only for rows that did not go in.
                WHEN EXISTS (SELECT 1 FROM unnest(p_requests) WITH ORDINALITY AS r(request, k)
                              WHERE r.request = i.request AND r.k <> i.k)
                     THEN folio_append_new_events_refused(i.event_id, 'it was stored before and its batch holds other events')
                WHEN old.event_id IS NULL
                     THEN folio_append_new_events_refused(i.event_id, 'it was stored by a transaction that committed meanwhile')
                WHEN old.event_type = i.event_type AND old.data = i.data THEN 'duplicate'
                ELSE 'event-id-reused'
           END,
           coalesce(ins.stream_revision, old.stream_revision),
           coalesce(ins.position, old.position),
           coalesce(ins.epoch, old.epoch),
           coalesce(ins.transaction_id, old.transaction_id),
           coalesce(ins.recorded_at, old.recorded_at)
      FROM unnest(p_requests, p_event_ids, p_types, p_data, p_expected)
           WITH ORDINALITY AS i(request, event_id, event_type, data, expected, k)
      LEFT JOIN inserted AS ins ON ins.event_id = i.event_id
      -- The stored event, only for rows that did not go in (LIMIT 1 keeps it a probe, see 0004).
      LEFT JOIN LATERAL (
          SELECT x.event_id, x.event_type, x.data, x.stream_revision, x.position, x.epoch, x.transaction_id, x.recorded_at
            FROM events AS x
           WHERE x.event_id = i.event_id AND ins.event_id IS NULL
           LIMIT 1
      ) AS old ON true;
END;
$$;

COMMENT ON FUNCTION folio_append_new_events IS
    'Appends new events: insert first, judge only conflicts, raise when folio_append must judge; see migration 0007.';
