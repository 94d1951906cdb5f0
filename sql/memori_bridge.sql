-- memori_bridge.sql: the bridge's own objects, in schema memori_bridge (never
-- one of the streamed schemas). memori-bridge applies this file itself (it is
-- built into the program); it is idempotent.

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

-- verify's requests to a running bridge: apply everything that committed
-- before pause_at, then hold still until released, so that the target can be
-- compared with a source snapshot taken exactly there. verify inserts a row
-- and sends NOTIFY memori_bridge; the bridge's applier, which LISTENs, sets
-- state to 'paused' (with the origin position it holds at) or to 'past' (it
-- had already applied beyond pause_at), and goes on once the row says
-- 'released' or is gone.
CREATE TABLE IF NOT EXISTS memori_bridge.verify_pause (
    token      text PRIMARY KEY,
    slot       text NOT NULL,
    pause_at   pg_lsn NOT NULL,
    state      text NOT NULL DEFAULT 'requested'
               CHECK (state IN ('requested', 'paused', 'past', 'released')),
    applied    pg_lsn,
    updated_at timestamptz NOT NULL DEFAULT now()
);
