-- Tables for the run tests, beyond the memori schema and golden/setup.sql.
-- Applied to source and target alike, before the slot exists.

-- No primary key, REPLICA IDENTITY FULL: UPDATE and DELETE carry the whole
-- old row, and the bridge finds the row by every column's text.
CREATE TABLE golden.full_nopk (a integer, b text, c jsonb, d double precision);
ALTER TABLE golden.full_nopk REPLICA IDENTITY FULL;

-- A generated column (computed on each side, never written) and an identity
-- column (GENERATED ALWAYS: inserts need OVERRIDING SYSTEM VALUE).
CREATE TABLE golden.gen (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    x integer,
    twice integer GENERATED ALWAYS AS (x * 2) STORED
);

-- A composite primary key, and a unique constraint besides the key.
CREATE TABLE golden.pair (
    a integer,
    b text,
    code text UNIQUE,
    n bigint,
    PRIMARY KEY (a, b)
);

-- Types whose name alone means something else in a cast (char means
-- char(1), bit means bit(1)), and user-defined ones.
CREATE TYPE golden.mood AS ENUM ('calm', 'busy', 'it''s "odd"');
CREATE DOMAIN golden.positive AS integer CHECK (VALUE > 0);
CREATE TYPE golden.pt AS (x double precision, label text);
CREATE TABLE golden.more_types (
    id      integer PRIMARY KEY,
    c5      char(5),
    b3      bit(3),
    vb      bit varying(8),
    t       time,
    tz      timetz,
    ip      inet,
    net     cidr,
    mac     macaddr,
    p       point,
    money2  numeric(5, 2),
    r       int4range,
    tr      tstzrange,
    m       golden.mood,
    pos     golden.positive,
    comp    golden.pt,
    bigs    bigint[],
    docs    jsonb[],
    moods   golden.mood[]
);
