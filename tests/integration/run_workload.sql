-- The run round trip's own workload, after golden/workload.sql: batching,
-- keys, identity FULL, generated columns, and transactions of every size.
\set ON_ERROR_STOP 1
SET datestyle = 'SQL, DMY';   -- the writer's style must not matter either

-- a large transaction over every memori table: multi-row batches
BEGIN;
INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata)
SELECT 'agent-' || g % 7, 'kind-' || g % 3, 'entity ' || g, repeat('x', g % 50), jsonb_build_object('g', g)
FROM generate_series(1, 3000) g;
INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type)
SELECT 'agent-1', e1.id, e2.id, 'rel'
FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM memori.entities) e1
JOIN (SELECT id, row_number() OVER (ORDER BY id DESC) r FROM memori.entities) e2 USING (r);
INSERT INTO memori.memories (user_id, content, metadata, expires_at)
SELECT 'agent-' || g % 5, 'memory ' || g || ' about "quotes" and \backslashes\ and ' || repeat('é', g % 20),
       jsonb_build_object('n', g, 's', 'x"y'), CASE WHEN g % 10 = 0 THEN timestamp '2000-01-02 03:04:05' END
FROM generate_series(1, 5000) g;
UPDATE memori.memories SET use_count = use_count + 1, last_used_at = '2025-03-01 10:00' WHERE id % 3 = 0;
DELETE FROM memori.memories WHERE id % 11 = 0;
COMMIT;

-- the same row updated twice in one transaction, then deleted and inserted again
BEGIN;
UPDATE memori.memories SET use_count = 10 WHERE id = 3;
UPDATE memori.memories SET use_count = 20 WHERE id = 3;
UPDATE memori.memories SET category = 'twice' WHERE id IN (3, 6, 9);
DELETE FROM memori.memories WHERE id = 6;
INSERT INTO memori.memories (id, user_id, content) VALUES (6, 'agent-back', 'back again');
COMMIT;

-- primary-key changes: the row moves; a chain of moves in one transaction
UPDATE memori.memories SET id = 100001 WHERE id = 12;
BEGIN;
UPDATE memori.memories SET id = 100002 WHERE id = 15;
UPDATE memori.memories SET id = 100003 WHERE id = 100002;
UPDATE memori.memories SET id = 15 WHERE id = 100003;
COMMIT;

-- cleanup_expired_memories() deletes many rows at once
SELECT memori.cleanup_expired_memories() \g /dev/null

-- an UPDATE that leaves a TOASTed value alone: the target keeps its value
INSERT INTO memori.conversations (user_id, messages)
SELECT 'agent-toast', jsonb_agg(jsonb_build_object('i', i, 'text', md5(i::text))) FROM generate_series(1, 3000) i;
UPDATE memori.conversations SET session_id = 'toast-kept' WHERE user_id = 'agent-toast';

-- identity FULL, without a key: NULLs, duplicates, floats, json
INSERT INTO golden.full_nopk VALUES (1, 'a', '{"k": 1}', 0.1), (1, 'a', '{"k": 1}', 0.1),
    (2, NULL, NULL, NULL), (3, 'c', '[1, 2]', 1e-300);
UPDATE golden.full_nopk SET b = 'b' WHERE a = 2;
UPDATE golden.full_nopk SET d = 2.5 WHERE a = 1;   -- both duplicates: two updates
DELETE FROM golden.full_nopk WHERE a = 3;

-- generated and identity columns
INSERT INTO golden.gen (x) SELECT g FROM generate_series(1, 100) g;
UPDATE golden.gen SET x = x + 1000 WHERE id % 2 = 0;
DELETE FROM golden.gen WHERE id % 5 = 0;

-- a composite key, one of its columns changed
INSERT INTO golden.pair SELECT g, 'k' || g, 'code' || g, g * 1000000000000 FROM generate_series(1, 200) g;
UPDATE golden.pair SET b = 'moved' WHERE a = 7;
UPDATE golden.pair SET n = -n WHERE a > 100;
DELETE FROM golden.pair WHERE a % 9 = 0;

-- many small transactions
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        INSERT INTO memori.memories (user_id, content) VALUES ('small', 'small ' || i);
        COMMIT;
    END LOOP;
END
$$;

-- interleaved small transactions that reuse keys across tables and actions:
-- the applier fills one batch per statement side by side, and must still
-- apply each key's changes in order
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        INSERT INTO memori.entities (id, user_id, entity_name) VALUES (900000 + i % 7, 'k', 'v' || i)
            ON CONFLICT (id) DO UPDATE SET entity_name = excluded.entity_name;
        UPDATE memori.memories SET use_count = use_count + 1 WHERE id = 1 + i % 5;
        DELETE FROM memori.entities WHERE id = 900000 + (i + 3) % 7;
        INSERT INTO memori.relationships (user_id, source_entity_id) VALUES ('r', NULL);
        UPDATE memori.entities SET content = 'c' || i WHERE id = 900000 + (i + 1) % 7;
        DELETE FROM memori.relationships WHERE id % 3 = 0 AND user_id = 'r';
        COMMIT;
    END LOOP;
END
$$;

-- a unique value handed between rows (golden.pair has UNIQUE (code)): that
-- table's changes stay in order
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        UPDATE golden.pair SET code = 'tmp' WHERE a = 1;
        UPDATE golden.pair SET code = CASE WHEN i % 2 = 1 THEN 'code1' ELSE 'code2' END WHERE a = 2;
        UPDATE golden.pair SET code = CASE WHEN i % 2 = 1 THEN 'code2' ELSE 'code1' END WHERE a = 1;
        COMMIT;
    END LOOP;
END
$$;

-- TRUNCATE ... CASCADE: relationships goes with entities, in one statement
INSERT INTO memori.entities (user_id, entity_name) VALUES ('x', 'gone soon');
TRUNCATE memori.entities CASCADE;
INSERT INTO memori.entities (user_id, entity_name) VALUES ('after', 'truncate');

-- types that a bare cast would cut or misread
INSERT INTO golden.more_types VALUES
    (1, 'ab', B'101', B'1', '23:59:59.999999', '12:00:00+05:30', '192.168.1.1/24', '10.0.0.0/8',
     '08:00:2b:01:02:03', '(1.5,-2)', 123.45, '[1,10)', '["2024-01-01 00:00+00","2024-02-01 00:00+00")',
     'it''s "odd"', 42, ROW(1.25, 'a "label", with comma'), '{1,-9223372036854775808}',
     ARRAY['{"a": 1}'::jsonb, '[]'::jsonb], '{calm,"it''s \"odd\""}'),
    (2, 'abcde', B'000', B'', NULL, NULL, '::1', '::/0', NULL, NULL, -0.5, 'empty', NULL, 'busy', 1,
     ROW(NULL, NULL), '{}', '{}', '{}');
UPDATE golden.more_types SET c5 = 'x', b3 = B'111' WHERE id = 2;
