-- Read models of the projector (docs/projector.md). Every read-model table carries a
-- `generation`: a rebuild writes generation N+1 next to the active N, catches up, and flips
-- `folio_projections.active_generation` in one transaction; readers always ask for the active
-- generation in the same statement, so a swap is atomic without DDL and without downtime.

CREATE TABLE folio_projections (
    name              text PRIMARY KEY,
    active_generation bigint,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE folio_projection_generation_seq;

-- One row per generation of a read model: its code version, its checkpoint (the store cursor
-- of the last event applied, written in the same transaction as the rows) and its state.
CREATE TABLE folio_projection_generations (
    name             text NOT NULL REFERENCES folio_projections (name),
    generation       bigint NOT NULL,
    version          integer NOT NULL,
    state            text NOT NULL CHECK (state IN ('building', 'active', 'retired', 'abandoned')),
    cursor_epoch     integer NOT NULL DEFAULT 0,
    cursor_xid       xid8 NOT NULL DEFAULT '0'::xid8,
    cursor_position  bigint NOT NULL DEFAULT 0,
    events           bigint NOT NULL DEFAULT 0,
    last_recorded_at timestamptz,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    swapped_at       timestamptz,
    PRIMARY KEY (name, generation)
);

-- Articles: the current state (GET /v1/articles/{id}) and the search document.
CREATE TABLE proj_articles (
    generation  bigint NOT NULL,
    id          uuid NOT NULL,
    slug        text NOT NULL,
    title       text NOT NULL,
    language    text NOT NULL,
    text        text NOT NULL,
    revision    integer NOT NULL,
    -- The last revision that changed the text: every annotation's anchor was last computed
    -- for greatest(its own revision, this).
    last_edit_revision integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    archived    boolean NOT NULL,
    authors     text[] NOT NULL,
    source      jsonb,
    search      tsvector NOT NULL,
    PRIMARY KEY (generation, id)
);
CREATE INDEX proj_articles_slug ON proj_articles (generation, slug);
CREATE INDEX proj_articles_search ON proj_articles USING gin (search);

-- One row per revision: history (author, time, summary, size of change) and what time travel
-- needs (the event's data and the edit it applied, after the merge rule).
CREATE TABLE proj_article_revisions (
    generation   bigint NOT NULL,
    article_id   uuid NOT NULL,
    revision     integer NOT NULL,
    event_type   text NOT NULL,
    author       text,
    recorded_at  timestamptz NOT NULL,
    summary      text NOT NULL,
    inserted     integer NOT NULL,
    deleted      integer NOT NULL,
    data         text NOT NULL,
    applied_ops  text,
    PRIMARY KEY (generation, article_id, revision)
);

-- The article every 32 revisions (1, 33, 65, …): "at revision N" is a snapshot plus at most
-- 31 edits.
CREATE TABLE proj_article_snapshots (
    generation  bigint NOT NULL,
    article_id  uuid NOT NULL,
    revision    integer NOT NULL,
    slug        text NOT NULL,
    title       text NOT NULL,
    language    text NOT NULL,
    text        text NOT NULL,
    archived    boolean NOT NULL,
    updated_at  timestamptz NOT NULL,
    source      jsonb,
    PRIMARY KEY (generation, article_id, revision)
);

-- Annotations with their current anchor. Deleted annotations are removed. A row changes only
-- when its anchor moves; anchor.revision is greatest(created_revision, the article's
-- last_edit_revision), since every text edit re-anchors every annotation.
CREATE TABLE proj_annotations (
    generation       bigint NOT NULL,
    id               uuid NOT NULL,
    article_id       uuid NOT NULL,
    body             text NOT NULL,
    tags             text[] NOT NULL,
    motivation       text NOT NULL,
    author           text,
    target           jsonb NOT NULL,
    created_revision integer NOT NULL,
    anchor_start     integer NOT NULL,
    anchor_end       integer NOT NULL,
    anchor_status    text NOT NULL,
    search           tsvector NOT NULL,
    PRIMARY KEY (generation, id)
);
CREATE INDEX proj_annotations_article ON proj_annotations (generation, article_id);
CREATE INDEX proj_annotations_search ON proj_annotations USING gin (search);

GRANT SELECT, INSERT, UPDATE, DELETE ON folio_projections, folio_projection_generations, proj_articles,
    proj_article_revisions, proj_article_snapshots, proj_annotations TO folio_service;
GRANT USAGE, SELECT ON SEQUENCE folio_projection_generation_seq TO folio_service;
