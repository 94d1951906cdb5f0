-- replication_setup.sql: the objects bench/replication.sh needs besides memori.
--
--   psql -v side=source -f bench/replication_setup.sql    (or side=target)
--
-- Run after sql/memori_schema.sql, on both clusters. Nothing here is in the
-- memori schema: the drain benchmark replicates memori only, the lag benchmark
-- memori and bench (bench.heartbeat).
--
-- source: bench.heartbeat (id, sent_at); schema bench_gen, which the agents
--         draw on and which is never replicated: bench_gen.memory_text(), the
--         text of a memory, and bench_gen.seed(), the rows they start from.
-- target: bench.heartbeat with arrived_at, filled by its default when the
--         applier inserts the source's two columns, and committed_at, filled
--         when the applier's transaction commits; bench.wait_origin(), which
--         waits on the server, so that timing a native subscription costs no
--         polling round trips.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT :'side' = 'target' AS is_target \gset

CREATE SCHEMA IF NOT EXISTS bench;

\if :is_target

CREATE TABLE IF NOT EXISTS bench.heartbeat (
    id bigint PRIMARY KEY,
    sent_at timestamptz NOT NULL,
    arrived_at timestamptz DEFAULT clock_timestamp(),
    committed_at timestamptz
);

-- committed_at: a deferred constraint trigger runs as its transaction
-- commits, so it shows how long an applier that groups source transactions
-- holds a row before others can see it. ALWAYS: appliers run with
-- session_replication_role = replica, which skips ordinary triggers.
CREATE OR REPLACE FUNCTION bench.heartbeat_committed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bench.heartbeat SET committed_at = clock_timestamp() WHERE id = NEW.id;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS heartbeat_committed ON bench.heartbeat;
CREATE CONSTRAINT TRIGGER heartbeat_committed AFTER INSERT ON bench.heartbeat
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench.heartbeat_committed();
ALTER TABLE bench.heartbeat ENABLE ALWAYS TRIGGER heartbeat_committed;

-- Wait until the replication origin of subscription SUB has applied a commit
-- that ends after PAST (the WAL insert position before the last transaction
-- of the backlog). Returns the time it saw it. Fails after TIMEOUT_S, or as
-- soon as the apply worker reports an error.
CREATE OR REPLACE FUNCTION bench.wait_origin(sub name, past pg_lsn, timeout_s int)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    origin text;
    deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
    at pg_lsn;
    i int := 0;
BEGIN
    SELECT 'pg_' || oid INTO STRICT origin FROM pg_subscription WHERE subname = sub;
    LOOP
        -- pg_replication_origin_status reads shared memory: no snapshot to refresh.
        SELECT remote_lsn INTO at FROM pg_replication_origin_status WHERE external_id = origin;
        IF at > past THEN
            RETURN clock_timestamp();
        END IF;
        i := i + 1;
        IF i % 100 = 0 THEN
            PERFORM pg_stat_clear_snapshot();
            IF (SELECT apply_error_count > 0 FROM pg_stat_subscription_stats WHERE subname = sub) THEN
                RAISE EXCEPTION 'the apply worker of subscription % failed: see the target''s log', sub;
            END IF;
            IF clock_timestamp() > deadline THEN
                RAISE EXCEPTION 'subscription % did not apply past % within % s (origin at %)',
                    sub, past, timeout_s, at;
            END IF;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;

\else

CREATE TABLE IF NOT EXISTS bench.heartbeat (
    id bigserial PRIMARY KEY,
    sent_at timestamptz NOT NULL
);

CREATE SCHEMA IF NOT EXISTS bench_gen;

-- LEN bytes of words drawn by SEED from a vocabulary with quotes, non-ASCII
-- and emoji, so that the tsvector trigger, TOAST compression and JSON escaping
-- all have work to do.
CREATE OR REPLACE FUNCTION bench_gen.make_text(len bigint, seed bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(string_agg(w[1 + (hashint8(seed * 4096 + g) & 2147483647) % n], ' '), len::int)
    FROM (SELECT v AS w, cardinality(v) AS n FROM (SELECT '{
        user,prefers,dark,mode,concise,answers,agent,learned,deploy,pipeline,runs,on,Fridays,
        remember,staging,database,port,5433,not,5432,favourite,editor,"\"vim\"",avoid,emacs,
        project,uses,Supabase,locally,resets,often,customer,table,rating_slips,references,visits,
        players,prefer,psql,copy,over,COPY,when,running,as,normal,time,zone,Europe/Berlin,
        meetings,after,16:00,are,fine,Memori,keeps,memory,across,sessions,記憶,😀,persists,
        tests,must,run,against,real,PostgreSQL,never,mocks,the,a,of,and,to,in,is,that,it,
        user''s,"it''s",schema,migration,cutover,rollback,replication,slot,wal2json,lag,
        index,query,latency,budget,review,ticket,PR-1234,branch,main,release,v2.3.1,hotfix,
        docker,compose,volume,backup,restore,nightly,cron,alert,pager,on-call,Monday,
        café,naïve,Zürich,東京,emoji,🚀,"{json}","[array]",tab,newline,C:\\path,50%,
        #tag,@mention,e-mail,https://example.org/a?b=c&d=e,42,3.14159,-7,1e10,"null",true
    }'::text[]) t(v)) c,
    generate_series(1, len / 3 + 1) g
$$;

-- Making text in every statement would cost the source much CPU that an agent
-- (which sends its text) does not cost it, so it is made once: 1,024 texts of
-- 4,000 bytes.
CREATE TABLE IF NOT EXISTS bench_gen.corpus (id int PRIMARY KEY, body text NOT NULL);
INSERT INTO bench_gen.corpus SELECT g, bench_gen.make_text(4000, g) FROM generate_series(0, 1023) g
ON CONFLICT DO NOTHING;

-- The text of a memory: LEN bytes (at most 3,900) of a text of the corpus,
-- from an offset; both chosen by SEED.
CREATE OR REPLACE FUNCTION bench_gen.memory_text(len bigint, seed bigint)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT substr(body, 1 + (seed / 1024 % 100)::int, least(len, 3900)::int)
    FROM bench_gen.corpus WHERE id = (seed % 1024)::int
$$;

-- The rows the agents start from, in transactions of 100 rows: 2,000
-- entities, 1,000 relationships, 500 conversations, 5,000 memories. Called
-- after the slots exist, so that these rows are part of the backlog.
CREATE OR REPLACE PROCEDURE bench_gen.seed()
LANGUAGE plpgsql AS $$
BEGIN
    FOR b IN 0 .. 19 LOOP
        INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata)
        SELECT 'agent-' || g % 4, (ARRAY['person','tool','project','file','concept'])[1 + g % 5],
               'entity-' || g, bench_gen.memory_text(40 + g % 200, g),
               jsonb_build_object('seen', g % 97, 'tags', jsonb_build_array('t' || g % 7, 'u' || g % 3))
        FROM generate_series(b * 100 + 1, b * 100 + 100) g;
        COMMIT;
    END LOOP;
    FOR b IN 0 .. 9 LOOP
        INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type, metadata)
        SELECT 'agent-' || g % 4, 1 + (g * 7919) % 2000, 1 + (g * 104729) % 2000,
               (ARRAY['uses','knows','part_of','depends_on'])[1 + g % 4], jsonb_build_object('w', g % 1000 / 1000.0)
        FROM generate_series(b * 100 + 1, b * 100 + 100) g;
        COMMIT;
    END LOOP;
    FOR b IN 0 .. 4 LOOP
        INSERT INTO memori.conversations (user_id, session_id, messages, metadata)
        SELECT 'agent-' || g % 4, 'sess-' || g,
               jsonb_build_array(jsonb_build_object('role', 'user', 'content', bench_gen.memory_text(80, g))),
               jsonb_build_object('client', 'cli')
        FROM generate_series(b * 100 + 1, b * 100 + 100) g;
        COMMIT;
    END LOOP;
    FOR b IN 0 .. 49 LOOP
        INSERT INTO memori.memories (user_id, content, category, metadata, source_type, confidence,
                                     lineage, last_used_at, use_count)
        SELECT 'agent-' || g % 4, bench_gen.memory_text(200 + (g * 131) % 3800, g),
               (ARRAY['preference','fact','context','skill'])[1 + g % 4],
               jsonb_build_object('session', 'sess-' || g / 20, 'score', g % 10000 / 10000.0,
                                  'tags', jsonb_build_array('seed', g % 11)),
               'import', (g % 100) / 100.0,
               jsonb_build_array(jsonb_build_object('from', 'seed', 'turn', g % 40)),
               now() - (g % 720) * interval '1 hour', g % 9
        FROM generate_series(b * 100 + 1, b * 100 + 100) g;
        COMMIT;
    END LOOP;
END $$;

\endif
