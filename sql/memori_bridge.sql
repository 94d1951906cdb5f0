-- memori_bridge.sql: the bridge's own objects, in schema memori_bridge (never
-- one of the streamed schemas). memori-bridge applies this file itself (it is
-- built into the program); it is idempotent, and quiet about what exists.

SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS memori_bridge;

-- How far init got, per slot, so that an interrupted init can be cleaned up by
-- the next one: "preparing" (before the slot exists), "copying" (the slot
-- exists, the tables are being filled), "done".
CREATE TABLE IF NOT EXISTS memori_bridge.init_state (
    slot             text PRIMARY KEY,
    phase            text NOT NULL CHECK (phase IN ('preparing', 'copying', 'done')),
    consistent_point pg_lsn,
    schemas          text NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

-- How far each direction has applied, on the side it applies to: the end LSN
-- (the C record's nextlsn) of the last source transaction applied, written by
-- the applier in the same transaction as the changes, so that a restart goes
-- on from exactly there. slot names the direction by the slot it streams:
-- "<slot>" for the forward direction (on the target), "<slot>_reverse" for the
-- reverse one (on the source). The replication origin functions would do the same, but they
-- belong to the bootstrap superuser, which Supabase's postgres role is not.
CREATE TABLE IF NOT EXISTS memori_bridge.progress (
    slot        text PRIMARY KEY,
    end_lsn     pg_lsn NOT NULL,
    commit_time timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- verify's requests to a running bridge: apply everything that committed
-- before pause_at, then hold still until released, so that the target can be
-- compared with a source snapshot taken exactly there. verify inserts a row
-- and sends NOTIFY memori_bridge; the bridge's applier, which LISTENs, sets
-- state to 'paused' (with the position it holds at) or to 'past' (it had
-- already applied beyond pause_at), and goes on once the row says 'released'
-- or is gone. A hold is a lease: it also ends when the session of the verify
-- that asked for it (holder_pid, on this side) is gone, or after the bridge's
-- hold_timeout; the bridge then deletes the row.
CREATE TABLE IF NOT EXISTS memori_bridge.verify_pause (
    token      text PRIMARY KEY,
    slot       text NOT NULL,
    pause_at   pg_lsn NOT NULL,
    state      text NOT NULL DEFAULT 'requested'
               CHECK (state IN ('requested', 'paused', 'past', 'released')),
    applied    pg_lsn,
    holder_pid integer,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE memori_bridge.verify_pause ADD COLUMN IF NOT EXISTS holder_pid integer;

-- Fences. A fenced side refuses writes to the streamed tables from everyone
-- but the bridge: each table gets a statement-level BEFORE INSERT, UPDATE,
-- DELETE and TRUNCATE trigger (memori_bridge_fence) that raises SQLSTATE
-- 25006 (read_only_sql_transaction), naming where memori lives now, so that an
-- application can tell, reconnect there and retry. Ordinary triggers do not
-- fire under session_replication_role = replica, so the bridge's own apply
-- passes. Reads never stop. fence_state says where the writes go instead (host,
-- port and database; never a password).
CREATE TABLE IF NOT EXISTS memori_bridge.fence_state (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    moved_to  text NOT NULL,
    fenced_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION memori_bridge.fence() RETURNS trigger
LANGUAGE plpgsql AS $fence$
DECLARE
    elsewhere text;
BEGIN
    SELECT moved_to INTO elsewhere FROM memori_bridge.fence_state;
    RAISE EXCEPTION 'memori is read-only here: it has moved to %',
                    coalesce(elsewhere, 'the other database')
        USING ERRCODE = '25006',
              DETAIL = format('%s on %I.%I was refused by the memori-bridge fence.', TG_OP,
                              TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Connect to where memori lives now (MEMORI_DATABASE_URL) and retry.';
END
$fence$;

-- Which way the bridge streams, per slot, and the switch in progress:
-- cutover and rollback set it, a running bridge follows it.
CREATE TABLE IF NOT EXISTS memori_bridge.switch (
    slot       text PRIMARY KEY,
    direction  text NOT NULL CHECK (direction IN ('forward', 'reverse')),
    phase      text NOT NULL CHECK (phase IN ('switching', 'done', 'aborted')),
    token      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What a running bridge reports, every second or so, for status and cutover;
-- link_down names the side it cannot reach (its link is down, since
-- link_down_since), or is NULL.
CREATE TABLE IF NOT EXISTS memori_bridge.stream_status (
    slot                text NOT NULL,
    direction           text NOT NULL CHECK (direction IN ('forward', 'reverse')),
    pid                 integer NOT NULL,
    host                text,
    applied_lsn         pg_lsn,
    durable_lsn         pg_lsn,
    source_lsn          pg_lsn,
    lag_bytes           bigint,
    lag_seconds         double precision,
    changes             bigint,
    started_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    link_down           text,
    link_down_since     timestamptz,
    PRIMARY KEY (slot, direction)
);
-- A table of an earlier version gets them (and only then the lock it takes).
DO $link$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute
                   WHERE attrelid = 'memori_bridge.stream_status'::regclass
                     AND attname = 'link_down' AND NOT attisdropped) THEN
        ALTER TABLE memori_bridge.stream_status ADD COLUMN link_down text,
            ADD COLUMN link_down_since timestamptz;
    END IF;
END
$link$;

-- What the stream has shown of the streamed side's columns, per direction
-- (slot), on the side applied to: each column's attnum there and its name as
-- last streamed, and whether it is gone there (its values in the stream are
-- left out); attnum 0 holds the table's OID there. A name under an attnum
-- that had another one is a rename; the applier writes this in the same
-- transaction as the changes that showed it.
CREATE TABLE IF NOT EXISTS memori_bridge.layout (
    slot    text NOT NULL,
    nspname text NOT NULL,
    relname text NOT NULL,
    attnum  smallint NOT NULL,
    attname text,
    gone    boolean NOT NULL DEFAULT false,
    relid   oid,
    PRIMARY KEY (slot, nspname, relname, attnum)
);

-- A schema change the bridge does not follow by itself, holding the stream
-- of a direction until the side applied to is fixed: the table, the
-- statement to run there, the one line that says it all, and the source
-- transaction the stream stopped at (NULL when the periodic comparison of the
-- catalogs found it). The running bridge writes it, and deletes it once the
-- stream goes on; status shows it.
CREATE TABLE IF NOT EXISTS memori_bridge.schema_stop (
    slot       text NOT NULL,
    direction  text NOT NULL,
    table_name text NOT NULL,
    statement  text NOT NULL,
    message    text NOT NULL,
    commit_lsn pg_lsn,
    pid        integer,
    since      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (slot, direction)
);
