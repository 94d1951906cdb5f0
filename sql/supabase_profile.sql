-- supabase_profile.sql: a PostgreSQL cluster's roles and grants made the way
-- Supabase's own image makes them, for the demo's source and the tests'.
-- Run once by the cluster's bootstrap superuser, which initdb -U supabase_admin
-- named as Supabase does; the caller then sets the postgres role's password.
--
-- From supabase/postgres: migrations/db/migrations/
-- 10000000000000_demote-postgres.sql, 20230306081037_grant_pg_monitor_to_postgres.sql
-- and 20240606060239_grant_predefined_roles_to_postgres.sql. Supabase's
-- supautils extension lets postgres set session_replication_role (its
-- privileged_role_allowed_configs); on a plain PostgreSQL 15 the GRANT below
-- stands in for it. Nothing grants postgres the pg_replication_origin_*
-- functions, and it may not ALTER SYSTEM.

CREATE ROLE postgres NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS;
GRANT pg_monitor, pg_read_all_data, pg_signal_backend TO postgres;
GRANT ALL ON DATABASE postgres TO postgres;
GRANT ALL ON SCHEMA public TO postgres;
GRANT SET ON PARAMETER session_replication_role TO postgres;

-- Extensions go to their own schema, as the dashboard puts them.
CREATE SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO postgres;
CREATE EXTENSION pg_trgm WITH SCHEMA extensions;

-- The app's own tables, next to where memori will be: never the bridge's.
SET ROLE postgres;
CREATE SCHEMA context;
CREATE TABLE public.app_users (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE context.notes (
    id      bigserial PRIMARY KEY,
    user_id bigint REFERENCES public.app_users (id),
    body    text NOT NULL
);
INSERT INTO public.app_users (email)
SELECT 'user' || g || '@example.com' FROM generate_series(1, 20) g;
INSERT INTO context.notes (user_id, body)
SELECT 1 + g % 20, 'note ' || g FROM generate_series(1, 50) g;
RESET ROLE;
