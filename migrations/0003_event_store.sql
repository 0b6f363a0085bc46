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

-- Appends one batch of events atomically, in one round trip.
--
-- Input: parallel arrays, one element per event, in order. p_expected[i] is the revision
-- the stream must have just before event i (0: the stream must not exist yet), or NULL.
-- Output: one row per event, in input order, with a status:
--   appended                 stored now, with its revision and position
--   duplicate                this event id was stored before with the same type and data
--                            (G3): the original revision and position
--   event-id-reused          this id was stored before with another type or data
--   duplicate-in-batch       the same id appears twice in the batch
--   wrong-expected-revision  p_expected did not match; stream_revision is the actual one
--   not-attempted            valid, but another event of the batch failed (G5: nothing
--                            of the batch is stored then)
-- Failures are reported, not raised, so one batch of a group commit cannot fail another.
-- Appends to one stream are serialized by a transaction-level advisory lock per stream
-- (taken in sorted order, so concurrent batches cannot deadlock).
CREATE FUNCTION folio_append(
    p_epoch           integer,
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
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n          integer := coalesce(array_length(p_event_ids, 1), 0);
    i          integer;
    failed     boolean := false;
    statuses   text[] := array_fill(NULL::text, ARRAY[n]);
    revisions  bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    positions  bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    epochs     integer[] := array_fill(NULL::integer, ARRAY[n]);
    xids       xid8[] := array_fill(NULL::xid8, ARRAY[n]);
    times      timestamptz[] := array_fill(NULL::timestamptz, ARRAY[n]);
    heads      jsonb := '{}'::jsonb;
    head       bigint;
    found_row  record;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended(s.id, 7))
       FROM (SELECT DISTINCT unnest(p_stream_ids) AS id ORDER BY 1) AS s;

    FOR i IN 1..n LOOP
        SELECT e.event_type, e.data, e.stream_revision, e.position, e.epoch, e.transaction_id, e.recorded_at
          INTO found_row
          FROM events AS e
         WHERE e.event_id = p_event_ids[i];
        IF FOUND THEN
            IF found_row.event_type = p_types[i] AND found_row.data = p_data[i] THEN
                statuses[i] := 'duplicate';
                revisions[i] := found_row.stream_revision;
                positions[i] := found_row.position;
                epochs[i] := found_row.epoch;
                xids[i] := found_row.transaction_id;
                times[i] := found_row.recorded_at;
            ELSE
                statuses[i] := 'event-id-reused';
                failed := true;
            END IF;
            CONTINUE;
        END IF;
        IF i > 1 AND p_event_ids[i] = ANY (p_event_ids[1:i - 1]) THEN
            statuses[i] := 'duplicate-in-batch';
            failed := true;
            CONTINUE;
        END IF;
        head := (heads ->> p_stream_ids[i])::bigint;
        IF head IS NULL THEN
            SELECT coalesce(max(e.stream_revision), 0) INTO head
              FROM events AS e
             WHERE e.stream_id = p_stream_ids[i];
        END IF;
        IF p_expected[i] IS NOT NULL AND p_expected[i] <> head THEN
            statuses[i] := 'wrong-expected-revision';
            revisions[i] := head;
            failed := true;
        ELSE
            head := head + 1;
            statuses[i] := 'appended';
            revisions[i] := head;
        END IF;
        heads := jsonb_set(heads, ARRAY[p_stream_ids[i]], to_jsonb(head));
    END LOOP;

    IF failed THEN
        FOR i IN 1..n LOOP
            IF statuses[i] = 'appended' THEN
                statuses[i] := 'not-attempted';
                revisions[i] := NULL;
            END IF;
        END LOOP;
    ELSE
        INSERT INTO events (epoch, stream_id, stream_revision, event_id, event_type, schema_version,
                            data, metadata, article_id)
        SELECT p_epoch, p_stream_ids[k], revisions[k], p_event_ids[k], p_types[k], p_schema_versions[k],
               p_data[k], p_metadata[k], p_article_ids[k]
          FROM generate_subscripts(p_event_ids, 1) AS k
         WHERE statuses[k] = 'appended'
         ORDER BY k;
        FOR found_row IN
            SELECT e.event_id, e.position, e.epoch, e.transaction_id, e.recorded_at
              FROM events AS e
             WHERE e.event_id = ANY (p_event_ids) AND e.transaction_id = pg_current_xact_id()
        LOOP
            i := array_position(p_event_ids, found_row.event_id);
            positions[i] := found_row.position;
            epochs[i] := found_row.epoch;
            xids[i] := found_row.transaction_id;
            times[i] := found_row.recorded_at;
        END LOOP;
    END IF;

    RETURN QUERY
        SELECT p_event_ids[k], statuses[k], p_stream_ids[k], revisions[k], positions[k], epochs[k], xids[k], times[k]
          FROM generate_subscripts(p_event_ids, 1) AS k
         ORDER BY k;
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
