-- Golden stream, part 2: the workload, run with the slot in place. Every value
-- is fixed (no now(), no random()), so the stream is the same on every run.
\set ON_ERROR_STOP 1
SET datestyle = ISO;
SET intervalstyle = postgres;
SET extra_float_digits = 3;
SET bytea_output = hex;
SET timezone = 'UTC';

-- memori: every table and column type of the decision record's schema.
INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata, created_at)
VALUES ('agent-1', 'person', 'Ada', 'likes "dark" mode', '{"source": "chat", "n": 1}', '2025-01-02 03:04:05'),
       ('agent-1', 'tool', 'psql', E'back\\slash and\nnewline', '{}', '2025-01-02 03:04:06');
INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type, metadata, created_at)
VALUES ('agent-1', 1, 2, 'uses', '{"weight": 0.5}', '2025-01-02 03:04:07');
INSERT INTO memori.memories (user_id, content, category, metadata, source_type, confidence, lineage,
                             last_used_at, use_count, expires_at, created_at, updated_at)
VALUES ('agent-1', 'The user''s agent prefers dark mode', 'preference',
        '{"tags": ["ui", "pref"], "quote": "say \"hi\""}', 'conversation', 0.75,
        '[{"from": "chat", "at": "2025-01-01"}]', '2025-01-03 00:00:00', 3,
        '2030-01-01 00:00:00', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),
       ('agent-2', E'emoji \U0001F600 and CJK 中文 and tab\there', 'context', '{}', NULL, 0.5,
        '[]', NULL, 0, NULL, '2025-01-01 11:00:00', '2025-01-01 11:00:00');
INSERT INTO memori.conversations (user_id, session_id, messages, metadata, created_at, updated_at)
VALUES ('agent-1', 'sess-1', '[{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]',
        '{}', '2025-01-01 12:00:00', '2025-01-01 12:00:00');

-- A long memory: ~32 KB of md5 text is stored out of line (TOAST).
INSERT INTO memori.memories (user_id, content, created_at, updated_at)
SELECT 'agent-3', string_agg(md5(i::text), ' ' ORDER BY i), '2025-01-04 00:00:00', '2025-01-04 00:00:00'
FROM generate_series(1, 1000) AS i;

-- UPDATE that changes content (the trigger recomputes content_tsv), then one
-- that leaves the TOASTed content alone (it is absent from the stream).
UPDATE memori.memories SET content = 'The agent prefers light mode', updated_at = '2025-01-05 00:00:00' WHERE id = 1;
UPDATE memori.memories SET use_count = use_count + 1, last_used_at = '2025-01-06 00:00:00' WHERE id = 3;
UPDATE memori.conversations SET messages = messages || '[{"role": "user", "content": "bye"}]' WHERE id = 1;
DELETE FROM memori.memories WHERE id = 2;

-- golden.types: special numbers, quoting, empty string against NULL, arrays,
-- time types, a value over 1 MB.
INSERT INTO golden.types VALUES
    (1, 32767, 9223372036854775807, 'NaN', 1.5, 'NaN', 'Infinity', true, '\x00ff10',
     '{1,2,NULL}', '{"a b","c\"d","e\\f",NULL}', '2024-02-01 12:34:56.789+02', '2024-02-01 12:34:56.789',
     '2024-02-01', '1 year 2 mons 3 days 04:05:06.7', '{"k": "v\"q", "arr": [1, 2.50, null]}',
     '{"raw" :  "spacing kept"}', '''agent'':24 ''dark'':3', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     'ab', 'ten chars!', '', NULL),
    (2, -32768, -1, 'Infinity', -0.0001, '-Infinity', '-0', false, '\x', '{}', '{}',
     '1999-12-31 23:59:59.999999+00', '0001-01-01 00:00:00', '2000-02-29', '-1 day +02:00:00',
     '[]', 'null', '', '00000000-0000-0000-0000-000000000000', NULL, NULL, NULL,
     repeat('0123456789abcdef', 70000)),
    (3, 0, 0, '-Infinity', 12345678.1234, 1e-300, 3.4e38, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, E'quote '' double " backslash \\ newline \n end', NULL),
    (4, NULL, NULL, 123456789012345678901234567890.123456789, NULL, 0.1, 0.1, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- unchanged TOAST: "huge" is not in this UPDATE's columns
UPDATE golden.types SET note = 'touched' WHERE id = 2;
-- primary key change: identity holds the old key
UPDATE golden.types SET id = 40 WHERE id = 4;
DELETE FROM golden.types WHERE id = 3;

-- No primary key: only the INSERT is streamed.
INSERT INTO golden.nopk VALUES (1, 'a'), (2, NULL);
UPDATE golden.nopk SET y = 'b' WHERE x = 1;
DELETE FROM golden.nopk WHERE x = 2;

-- A transaction whose changes are all filtered out: an empty pair.
INSERT INTO public.elsewhere VALUES (1);

-- Logical messages, both kinds.
SELECT 'tx' FROM pg_logical_emit_message(true, 'memori_bridge', 'marker "1"');
SELECT 'nontx' FROM pg_logical_emit_message(false, 'app', 'outside any transaction');

-- A rolled-back savepoint: only the rows around it are streamed.
BEGIN;
INSERT INTO memori.entities (user_id, entity_name, created_at) VALUES ('agent-9', 'kept-1', '2025-02-01 00:00:00');
SAVEPOINT s1;
INSERT INTO memori.entities (user_id, entity_name, created_at) VALUES ('agent-9', 'rolled-back', '2025-02-01 00:00:00');
ROLLBACK TO SAVEPOINT s1;
INSERT INTO memori.entities (user_id, entity_name, created_at) VALUES ('agent-9', 'kept-2', '2025-02-01 00:00:00');
COMMIT;

-- TRUNCATE of two tables at once: two T records with the same LSN. entities
-- cannot be truncated without relationships, which references it.
TRUNCATE memori.relationships, memori.entities;
TRUNCATE golden.nopk;
