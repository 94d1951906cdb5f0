-- A memori workload for the benchmarks: about 130,000 row changes over the
-- four tables, shaped like an agent's memory traffic (mostly new memories of
-- a few hundred bytes to a few KB, with their tsvector and metadata; entity
-- and relationship upserts; conversations that grow; use counts that tick;
-- expiry that deletes). Deterministic: setseed() fixes random().
\set ON_ERROR_STOP 1
SELECT setseed(0.4242) \g /dev/null

-- phrases to build memory text from
CREATE TEMP TABLE phrases AS
SELECT i, p FROM unnest(ARRAY[
    'The user prefers dark mode and concise answers.',
    'Agent learned that the deploy pipeline runs on Fridays.',
    'Remember: the staging database is at port 5433, not 5432.',
    'User''s favourite editor is "vim"; avoid suggesting emacs.',
    'The PT-2 project uses Supabase locally and resets often.',
    'Customer table rating_slips references visits and players.',
    'Prefer psql \copy over COPY when running as a normal user.',
    'Time zone is Europe/Berlin; meetings after 16:00 are fine.',
    'Memori keeps agent memory across sessions — 記憶 😀 persists.',
    'Tests must run against real PostgreSQL, never mocks.'
]) WITH ORDINALITY AS t(p, i);

-- 12,000 entities and 12,000 relationships between them
INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata)
SELECT 'agent-' || (g % 17), (ARRAY['person','tool','project','file','concept'])[1 + g % 5],
       'entity-' || g, (SELECT string_agg(p, ' ') FROM phrases WHERE i <= 1 + g % 4),
       jsonb_build_object('seen', g % 97, 'tags', jsonb_build_array('t' || g % 7, 'u' || g % 3))
FROM generate_series(1, 12000) g;
INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type, metadata)
SELECT 'agent-' || (g % 17), 1 + (g * 7919) % 12000, 1 + (g * 104729) % 12000,
       (ARRAY['uses','knows','part_of','depends_on'])[1 + g % 4], jsonb_build_object('w', round(random()::numeric, 3))
FROM generate_series(1, 12000) g;

-- 60,000 memories, staged first (texts of 50 bytes to about 3 KB, sliced
-- from the phrases), then written in transactions of 1 to 50 rows as agents
-- write them.
CREATE TEMP TABLE staged AS
SELECT g,
       substr(t.text, 1 + (g * 37) % 500, 50 + (g * 131) % 2950) AS content
FROM generate_series(1, 60000) g,
     (SELECT repeat(string_agg(p, ' ' ORDER BY i), 8) AS text FROM phrases) t;
CREATE INDEX ON staged (g);
DO $$
DECLARE
    n int := 0;
    batch int;
BEGIN
    WHILE n < 60000 LOOP
        batch := 1 + (random() * 49)::int;
        INSERT INTO memori.memories (user_id, content, category, metadata, source_type, confidence,
                                     lineage, last_used_at, use_count, expires_at)
        SELECT 'agent-' || (g % 17), content,
               (ARRAY['preference','fact','context','skill'])[1 + g % 4],
               jsonb_build_object('session', 'sess-' || g / 20, 'score', round(random()::numeric, 4),
                                  'tags', jsonb_build_array('pref', 'ui', g % 11)),
               'conversation', round(random()::numeric, 2),
               jsonb_build_array(jsonb_build_object('from', 'chat', 'turn', g % 40)),
               now() - random() * interval '30 days', g % 9,
               CASE WHEN g % 10 = 0 THEN now() - interval '1 day' END
        FROM staged WHERE g > n AND g <= n + batch;
        n := n + batch;
        COMMIT;
    END LOOP;
END $$;

-- 4,000 conversations, then each grows by two messages
INSERT INTO memori.conversations (user_id, session_id, messages, metadata)
SELECT 'agent-' || (g % 17), 'sess-' || g,
       jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'hello ' || g)),
       jsonb_build_object('client', 'cli')
FROM generate_series(1, 4000) g;
UPDATE memori.conversations
SET messages = messages || jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', 'hi, how can I help?'),
                                             jsonb_build_object('role', 'user', 'content', 'recall my editor')),
    updated_at = now();

-- 30,000 memory uses, 1,000 per transaction
DO $$
BEGIN
    FOR b IN 0 .. 29 LOOP
        UPDATE memori.memories SET use_count = use_count + 1, last_used_at = now()
        WHERE id IN (SELECT 1 + ((b * 1000 + g) * 7919) % 60000 FROM generate_series(1, 1000) g);
        COMMIT;
    END LOOP;
END $$;

-- expiry: the cleanup function deletes the expired tenth
SELECT memori.cleanup_expired_memories() \g /dev/null
