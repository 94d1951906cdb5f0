-- The writers' bookkeeping of the crash and restart tests, on both sides
-- before the slot exists: each writer's counter, and the log of the numbers
-- it wrote (which must arrive each exactly once).
CREATE SCHEMA crash;
CREATE TABLE crash.counter (writer integer PRIMARY KEY, n integer NOT NULL);
CREATE TABLE crash.log (writer integer, seq integer, PRIMARY KEY (writer, seq));
INSERT INTO crash.counter SELECT g, 0 FROM generate_series(0, 3) g;
