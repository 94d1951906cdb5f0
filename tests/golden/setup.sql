-- Golden stream, part 1: the objects the workload writes to. Applied after
-- sql/memori_schema.sql, before the slot exists, so none of it is streamed.

-- Every column type the golden stream must show, beyond the memori schema's.
CREATE SCHEMA golden;
CREATE TABLE golden.types (
    id          integer PRIMARY KEY,
    small       smallint,
    big         bigint,
    num         numeric,
    num_scaled  numeric(12, 4),
    f8          double precision,
    f4          real,
    flag        boolean,
    bin         bytea,
    ints        integer[],
    texts       text[],
    tstz        timestamptz,
    ts          timestamp,
    day         date,
    span        interval,
    doc         jsonb,
    raw_json    json,
    words       tsvector,
    uid         uuid,
    code        char(3),
    label       varchar(10),
    note        text,
    huge        text
);
-- No compression and out-of-line storage: an UPDATE that leaves "huge" alone
-- then streams without it (unchanged TOAST).
ALTER TABLE golden.types ALTER COLUMN huge SET STORAGE EXTERNAL;

-- A table without a primary key or replica identity: wal2json streams its
-- INSERTs and drops its UPDATEs and DELETEs with only a server WARNING.
CREATE TABLE golden.nopk (x integer, y text);

-- A table outside the streamed schemas: a transaction that only writes here
-- still arrives as an empty BEGIN/COMMIT pair.
CREATE TABLE public.elsewhere (x integer);

-- Background transactions would add empty pairs at random: none here. Only a
-- superuser may (the integration tests' source is Supabase's postgres role,
-- and they do not compare the stream itself).
SELECT rolsuper AS is_superuser FROM pg_catalog.pg_roles WHERE rolname = current_user \gset
\if :is_superuser
ALTER SYSTEM SET autovacuum = off;
SELECT pg_reload_conf() \g /dev/null
\endif
