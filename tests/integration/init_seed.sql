-- Data for the init tests, on the source before init: every memori table,
-- and the golden types (run after tests/golden/setup.sql and
-- tests/integration/run_setup.sql). :rows sets the number of memories.
\set ON_ERROR_STOP 1
INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata)
SELECT 'agent-' || g % 13, 'kind-' || g % 4, 'entity ' || g, repeat('e', g % 40), jsonb_build_object('g', g)
FROM generate_series(1, :rows / 10) g;
INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type, metadata)
SELECT 'agent-' || g % 13, 1 + g % (:rows / 10), 1 + (g * 7) % (:rows / 10), 'rel-' || g % 3, '{"w": 0.5}'
FROM generate_series(1, :rows / 10) g;
INSERT INTO memori.memories (user_id, content, category, metadata, confidence, lineage, expires_at)
SELECT 'agent-' || g % 13, 'memory ' || g || ' with "quotes", \backslashes\ and ' || repeat('ü', g % 30),
       (ARRAY['context', 'preference', 'fact'])[1 + g % 3], jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 7)),
       (g % 100) / 100.0, '[{"from": "seed"}]', CASE WHEN g % 9 = 0 THEN timestamp '2031-01-01' END
FROM generate_series(1, :rows) g;
INSERT INTO memori.conversations (user_id, session_id, messages)
SELECT 'agent-' || g % 13, 'session-' || g, jsonb_build_array(jsonb_build_object('role', 'user', 'text', 'hi ' || g))
FROM generate_series(1, :rows / 20) g;
-- a row whose key was taken and freed: sequences must come from last_value
DELETE FROM memori.memories WHERE id = (SELECT max(id) FROM memori.memories);
INSERT INTO golden.types (id, num, f8, bin, ints, texts, tstz, day, span, doc, words, code, label, huge)
VALUES (1, 1.5, 2.25, '\x00ff', '{1,NULL}', '{"a b",NULL}', '2024-02-01 12:00+02', '2024-02-01', '1 day',
        '{"k": "v"}', 'a:1 b:2', 'ab', 'label', repeat('x', 100000));
INSERT INTO golden.more_types (id, c5, b3, m, pos, comp, moods)
VALUES (1, 'ab', B'101', 'busy', 3, ROW(1.5, 'x'), '{calm}');
INSERT INTO golden.gen (x) SELECT g FROM generate_series(1, 50) g;
INSERT INTO golden.pair SELECT g, 'k' || g, 'code' || g, g FROM generate_series(1, 50) g;
INSERT INTO golden.full_nopk VALUES (1, 'a', '{}', 0.5), (1, 'a', '{}', 0.5);
ANALYZE;
