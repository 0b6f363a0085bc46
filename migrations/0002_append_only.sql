-- Guarantee G1: the database itself refuses to change or remove events.
--
-- 1. A trigger refuses UPDATE, DELETE and TRUNCATE on the log for everyone, the table's
--    owner included (statement-level, so even a statement that matches no row fails).
-- 2. The role the server's sessions run under (SET ROLE folio_service) has only INSERT and
--    SELECT on the log.
--
-- Roles are cluster-wide and several Folio databases may share a cluster: the role is
-- created only when missing, and privileges are granted per database.

CREATE FUNCTION folio_refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'FO001',
              HINT = 'events are never changed; append a new event instead';
END;
$$;

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION folio_refuse_event_change();

CREATE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION folio_refuse_event_change();

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'folio_service') THEN
        CREATE ROLE folio_service NOLOGIN;
    END IF;
EXCEPTION
    -- Another database of the same cluster created it at the same moment.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO folio_service', current_database());
END
$$;

DO $$
BEGIN
    -- The user that runs migrations (and connects for the server) may switch to the role.
    IF NOT pg_has_role(current_user, 'folio_service', 'MEMBER') THEN
        EXECUTE format('GRANT folio_service TO %I', current_user);
    END IF;
EXCEPTION
    -- Membership is cluster-wide: another database's migration granted it at the same moment.
    WHEN unique_violation OR duplicate_object THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO folio_service;
REVOKE ALL ON events FROM folio_service;
GRANT SELECT, INSERT ON events TO folio_service;
GRANT SELECT ON folio_schema_migrations TO folio_service;
