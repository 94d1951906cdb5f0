-- init_data.sql: the memori data that bench/init.sh copies, made on the source
-- after sql/memori_schema.sql. It creates schema bench_gen (never copied: init.sh
-- drops it once the data is loaded) with:
--
--   bench_gen.load(first, step, last)   batches first, first + step, ... up to last,
--                                       one transaction each
--   bench_gen.finish()                  the sequences after the highest ids, as
--                                       if the agents had inserted the rows
--
-- One batch b holds 10,000 memories, 1,000 entities, 1,500 relationships
-- between them and 800 conversations of 2 to 16 messages, with explicit ids
-- (b * 10,000 + 1, ...), so that two sessions can load alternate batches side
-- by side and the data is the same whatever the interleaving. Everything is a
-- function of the batch and the row number (hashint8, and random() after
-- setseed() per batch): the same batches give the same rows, byte for byte.
--
-- Memories: 200 to 4,000 bytes of text (uniform), sliced from a corpus of words
-- with quotes, non-ASCII and emoji (the vocabulary of bench/replication_setup.sql),
-- with jsonb metadata and lineage, a category, a confidence, use counts and
-- timestamps; one in ten expires. The content is "Memory <id> (<user>): " and
-- one of 8,192 texts. The tsvector trigger would cost the source ~3 MB/s of text
-- per core, so the loader sets content_tsv itself, to exactly what the trigger
-- computes, and runs with session_replication_role = replica (the trigger and
-- the foreign-key checks do not fire; the keys are valid by construction):
-- to_tsvector('english', header) || the text's tsvector, made once per text.
-- tsvector concatenation shifts the right operand's positions past the left's,
-- which is what parsing the whole string does; init.sh checks a sample against
-- to_tsvector('english', content) and stops if one differs.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS bench_gen;

-- LEN bytes of words drawn by SEED from the vocabulary.
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

-- 1,024 bodies of 4,200 bytes.
CREATE TABLE IF NOT EXISTS bench_gen.corpus (id int PRIMARY KEY, body text NOT NULL);
INSERT INTO bench_gen.corpus SELECT g, bench_gen.make_text(4200, g) FROM generate_series(0, 1023) g
ON CONFLICT DO NOTHING;

-- 8,192 memory texts of 200 to 4,000 bytes, each with its tsvector.
CREATE TABLE IF NOT EXISTS bench_gen.texts (id int PRIMARY KEY, body text NOT NULL, tsv tsvector NOT NULL);
INSERT INTO bench_gen.texts
SELECT i, x.body, to_tsvector('english', x.body)
FROM generate_series(0, 8191) i,
     LATERAL (SELECT substr(c.body, 1 + (i / 1024 * 23) % 200,
                            200 + ((hashint8(i) & 2147483647) % 3801)::int) AS body
              FROM bench_gen.corpus c WHERE c.id = i % 1024) x
ON CONFLICT DO NOTHING;

-- A piece of the corpus: LEN bytes (at most 4,000) chosen by SEED.
CREATE OR REPLACE FUNCTION bench_gen.snippet(len bigint, seed bigint)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT substr(body, 1 + ((seed / 1024) % 200)::int, least(len, 4000)::int)
    FROM bench_gen.corpus WHERE id = (seed % 1024)::int
$$;

CREATE OR REPLACE FUNCTION bench_gen.h(x bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hashint8(x) & 2147483647 $$;

CREATE OR REPLACE PROCEDURE bench_gen.load_batch(b int)
LANGUAGE plpgsql AS $$
DECLARE
    base timestamp := '2026-11-01 00:00:00';
BEGIN
    PERFORM setseed((b % 1000) / 1000.0);

    INSERT INTO memori.entities (id, user_id, entity_type, entity_name, content, metadata, created_at)
    SELECT e, 'agent-' || bench_gen.h(e) % 23,
           (ARRAY['person','tool','project','file','concept','service','team'])[1 + e % 7],
           (ARRAY['Alice','pgbench','memori-bridge','deploy.yaml','backpressure','supabase','infra'])[1 + e % 7]
               || '-' || e,
           bench_gen.snippet(40 + bench_gen.h(e * 3) % 360, e * 7),
           jsonb_build_object('seen', bench_gen.h(e) % 97, 'aliases', jsonb_build_array('e' || e % 101, 'x' || e % 13),
                              'source', (ARRAY['chat','import','tool'])[1 + e % 3], 'weight', round(random()::numeric, 4)),
           base - (bench_gen.h(e * 5) % 525600) * interval '1 minute'
    FROM generate_series(b * 1000 + 1, b * 1000 + 1000) e;

    INSERT INTO memori.relationships (id, user_id, source_entity_id, target_entity_id, relationship_type, metadata, created_at)
    SELECT r, 'agent-' || bench_gen.h(r) % 23,
           b * 1000 + 1 + bench_gen.h(r * 7) % 1000, b * 1000 + 1 + bench_gen.h(r * 11) % 1000,
           (ARRAY['uses','knows','part_of','depends_on','owns','mentions'])[1 + r % 6],
           jsonb_build_object('w', round(random()::numeric, 3), 'evidence', bench_gen.h(r) % 9 + 1),
           base - (bench_gen.h(r * 5) % 525600) * interval '1 minute'
    FROM generate_series(b * 1500 + 1, b * 1500 + 1500) r;

    INSERT INTO memori.conversations (id, user_id, session_id, messages, metadata, created_at, updated_at)
    SELECT c, 'agent-' || bench_gen.h(c) % 23, 'sess-' || c,
           (SELECT jsonb_agg(jsonb_build_object(
                       'role', CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
                       'content', bench_gen.snippet(40 + bench_gen.h(c * 64 + m) % 560, c * 64 + m),
                       'at', base - (bench_gen.h(c) % 525600 - m) * interval '1 minute') ORDER BY m)
            FROM generate_series(1, 2 + (c % 15)::int) m),
           jsonb_build_object('client', (ARRAY['cli','web','slack'])[1 + c % 3], 'model', 'm-' || c % 4),
           base - (bench_gen.h(c) % 525600) * interval '1 minute',
           base - (bench_gen.h(c) % 525600 - 2 - c % 15) * interval '1 minute'
    FROM generate_series(b * 800 + 1, b * 800 + 800) c;

    INSERT INTO memori.memories (id, user_id, content, category, metadata, content_tsv, source_type,
                                 confidence, lineage, last_used_at, use_count, expires_at,
                                 created_at, updated_at)
    SELECT m, u, h.head || t.body,
           (ARRAY['preference','fact','context','skill','episode'])[1 + m % 5],
           jsonb_build_object('session', 'sess-' || (b * 800 + 1 + bench_gen.h(m) % 800),
                              'score', round(random()::numeric, 4),
                              'tags', jsonb_build_array((ARRAY['ui','db','ops','people','code'])[1 + m % 5], 'k' || m % 11),
                              'entities', jsonb_build_array(b * 1000 + 1 + bench_gen.h(m * 3) % 1000)),
           to_tsvector('english', h.head) || t.tsv,
           (ARRAY['conversation','import','tool','reflection'])[1 + m % 4],
           round(random()::numeric, 2)::float8,
           jsonb_build_array(jsonb_build_object('from', 'chat', 'turn', m % 40, 'conversation', b * 800 + 1 + m % 800)),
           base - (bench_gen.h(m * 13) % 43200) * interval '1 minute',
           (bench_gen.h(m * 17) % 50)::int,
           CASE WHEN m % 10 = 0 THEN base + (bench_gen.h(m) % 90) * interval '1 day' END,
           base - (bench_gen.h(m * 5) % 525600) * interval '1 minute',
           base - (bench_gen.h(m * 5) % 525600 - m % 600) * interval '1 minute'
    FROM generate_series(b * 10000 + 1, b * 10000 + 10000) m,
         LATERAL (SELECT 'agent-' || bench_gen.h(m) % 23 AS u) a,
         LATERAL (SELECT 'Memory ' || m || ' (' || a.u || '): ' AS head) h,
         bench_gen.texts t
    WHERE t.id = (bench_gen.h(m * 31) % 8192)::int;
END $$;

-- Batches FIRST, FIRST + STEP, ... up to LAST, one transaction each. Call it
-- with session_replication_role = replica (see above).
CREATE OR REPLACE PROCEDURE bench_gen.load(first int, step int, last int)
LANGUAGE plpgsql AS $$
BEGIN
    FOR b IN first .. last BY step LOOP
        CALL bench_gen.load_batch(b);
        COMMIT;
    END LOOP;
END $$;

CREATE OR REPLACE PROCEDURE bench_gen.finish()
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM setval('memori.memories_id_seq', (SELECT max(id) FROM memori.memories));
    PERFORM setval('memori.entities_id_seq', (SELECT max(id) FROM memori.entities));
    PERFORM setval('memori.relationships_id_seq', (SELECT max(id) FROM memori.relationships));
    PERFORM setval('memori.conversations_id_seq', (SELECT max(id) FROM memori.conversations));
END $$;
