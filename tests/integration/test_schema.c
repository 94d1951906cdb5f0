/*
 * test_schema.c: sql/memori_schema.sql creates the schema of the decision record
 * (seeds/000_644eca4d6031b10d.txt, Phase 1 step 3), applies again without change,
 * and behaves as the record says (content_tsv trigger, TTL cleanup).
 *
 * Every test gets a fresh cluster with the schema applied twice.
 */
#include "pgh.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MB_SOURCE_DIR
#define MB_SOURCE_DIR "."
#endif

static struct pgh_set set;
static PGconn *conn;
static char fingerprint_first[64];
static char fingerprint_second[64];

/* Everything the schema defines, with the OIDs and storage of each object, so that
 * dropping and recreating anything (or rewriting a table) changes the digest. */
static const char fingerprint_sql[] =
    "SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM ("
    " SELECT 'ns ' || n.oid || ' ' || n.nspname FROM pg_namespace n WHERE nspname = 'memori'"
    " UNION ALL SELECT 'ext ' || e.oid || ' ' || extname || ' ' || extversion"
    "   || ' ' || extnamespace::regnamespace FROM pg_extension e"
    " UNION ALL SELECT 'rel ' || c.oid || ' ' || relname || ' ' || relkind::text || ' ' || "
    "relfilenode"
    "   FROM pg_class c WHERE relnamespace = 'memori'::regnamespace"
    " UNION ALL SELECT 'att ' || attrelid::regclass || ' ' || attnum || ' ' || attname || ' '"
    "   || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' '"
    "   || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')"
    "   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    "   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    "   WHERE c.relnamespace = 'memori'::regnamespace AND attnum > 0 AND NOT attisdropped"
    " UNION ALL SELECT 'idx ' || indexrelid || ' ' || pg_get_indexdef(indexrelid)"
    "   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
    "   WHERE c.relnamespace = 'memori'::regnamespace"
    " UNION ALL SELECT 'con ' || oid || ' ' || conname || ' ' || pg_get_constraintdef(oid)"
    "   FROM pg_constraint WHERE connamespace = 'memori'::regnamespace"
    " UNION ALL SELECT 'tg ' || t.oid || ' ' || pg_get_triggerdef(t.oid) || ' ' || tgenabled::text"
    "   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    "   WHERE c.relnamespace = 'memori'::regnamespace"
    " UNION ALL SELECT 'fn ' || p.oid || ' ' || pg_get_functiondef(p.oid)"
    "   FROM pg_proc p WHERE pronamespace = 'memori'::regnamespace"
    " UNION ALL SELECT 'seq ' || schemaname || '.' || sequencename || ' ' || data_type || ' '"
    "   || coalesce(last_value::text, '-') FROM pg_sequences WHERE schemaname = 'memori'"
    ") f(x)";

static void
schema_path(char *buf, size_t len)
{
    const char *src = getenv("MB_SOURCE_DIR");

    snprintf(buf, len, "%s/sql/memori_schema.sql", src && *src ? src : MB_SOURCE_DIR);
}

static void
start_with_schema(void)
{
    char err[512];
    char path[4096];

    cr_assert(pgh_start(&set, 1, err, sizeof(err)), "pgh_start failed: %s", err);
    conn = pgh_connect(&set.c[0], NULL);
    cr_assert_not_null(conn, "could not connect to the cluster on port %d", set.c[0].port);

    schema_path(path, sizeof(path));
    cr_assert(pgh_psql_file(&set.c[0], NULL, path), "applying \"%s\" failed", path);
    cr_assert_not_null(
        pgh_query_value(conn, fingerprint_sql, fingerprint_first, sizeof(fingerprint_first)));
    cr_assert(pgh_psql_file(&set.c[0], NULL, path), "applying \"%s\" a second time failed", path);
    cr_assert_not_null(
        pgh_query_value(conn, fingerprint_sql, fingerprint_second, sizeof(fingerprint_second)));
}

static void
stop_cluster(void)
{
    if (conn)
        PQfinish(conn);
    conn = NULL;
    pgh_stop(&set);
}

/* Run SQL, expecting one row of one column; returns it in a static buffer. */
static const char *
value_of(const char *sql)
{
    static char buf[8192];

    cr_assert_not_null(pgh_query_value(conn, sql, buf, sizeof(buf)), "query failed: %s", sql);
    return buf;
}

TestSuite(schema, .init = start_with_schema, .fini = stop_cluster);

Test(schema, applies_twice_without_changing_anything)
{
    cr_assert_str_eq(fingerprint_second, fingerprint_first,
                     "catalog fingerprint changed on the second run: %s, then %s",
                     fingerprint_first, fingerprint_second);
}

Test(schema, does_not_change_the_search_path)
{
    cr_assert_str_eq(value_of("SELECT count(*) FROM pg_db_role_setting"), "0",
                     "the schema stored a per-database or per-role setting");
    cr_assert_str_eq(value_of("SELECT count(*) FROM pg_file_settings WHERE name = 'search_path'"),
                     "0", "the schema changed search_path in a configuration file");
}

Test(schema, creates_pg_trgm_and_the_four_tables)
{
    cr_assert_str_eq(value_of("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"), "1",
                     "pg_trgm is not installed");
    const char *got = value_of("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                               "WHERE relnamespace = 'memori'::regnamespace AND relkind = 'r'");

    cr_assert_str_eq(got, "conversations,entities,memories,relationships", "tables are \"%s\"",
                     got);
}

struct expected_column
{
    const char *table;
    const char *column;
    const char *type; /* format_type() */
    bool not_null;
    const char *default_; /* pg_get_expr() of the default, NULL for none */
};

/* The decision record's columns, in order, as the catalog must show them. */
static const struct expected_column expected_columns[] = {
    {"memories", "id", "integer", true, "nextval('memori.memories_id_seq'::regclass)"},
    {"memories", "user_id", "character varying(255)", true, NULL},
    {"memories", "content", "text", true, NULL},
    {"memories", "category", "character varying(50)", false, "'context'::character varying"},
    {"memories", "metadata", "jsonb", false, "'{}'::jsonb"},
    {"memories", "content_tsv", "tsvector", false, NULL},
    {"memories", "source_type", "character varying(50)", false, NULL},
    {"memories", "confidence", "double precision", false, "0.5"},
    {"memories", "lineage", "jsonb", false, "'[]'::jsonb"},
    {"memories", "last_used_at", "timestamp without time zone", false, NULL},
    {"memories", "use_count", "integer", false, "0"},
    {"memories", "expires_at", "timestamp without time zone", false, NULL},
    {"memories", "created_at", "timestamp without time zone", false, "now()"},
    {"memories", "updated_at", "timestamp without time zone", false, "now()"},
    {"entities", "id", "integer", true, "nextval('memori.entities_id_seq'::regclass)"},
    {"entities", "user_id", "character varying(255)", true, NULL},
    {"entities", "entity_type", "character varying(100)", false, NULL},
    {"entities", "entity_name", "character varying(255)", true, NULL},
    {"entities", "content", "text", false, NULL},
    {"entities", "metadata", "jsonb", false, "'{}'::jsonb"},
    {"entities", "created_at", "timestamp without time zone", false, "now()"},
    {"relationships", "id", "integer", true, "nextval('memori.relationships_id_seq'::regclass)"},
    {"relationships", "user_id", "character varying(255)", true, NULL},
    {"relationships", "source_entity_id", "integer", false, NULL},
    {"relationships", "target_entity_id", "integer", false, NULL},
    {"relationships", "relationship_type", "character varying(100)", false, NULL},
    {"relationships", "metadata", "jsonb", false, "'{}'::jsonb"},
    {"relationships", "created_at", "timestamp without time zone", false, "now()"},
    {"conversations", "id", "integer", true, "nextval('memori.conversations_id_seq'::regclass)"},
    {"conversations", "user_id", "character varying(255)", true, NULL},
    {"conversations", "session_id", "character varying(255)", false, NULL},
    {"conversations", "messages", "jsonb", false, "'[]'::jsonb"},
    {"conversations", "metadata", "jsonb", false, "'{}'::jsonb"},
    {"conversations", "created_at", "timestamp without time zone", false, "now()"},
    {"conversations", "updated_at", "timestamp without time zone", false, "now()"},
};

Test(schema, every_column_has_the_recorded_type_and_default)
{
    static const char sql[] =
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        "       pg_get_expr(d.adbin, d.adrelid)"
        "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        "  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE c.relnamespace = 'memori'::regnamespace AND c.relkind = 'r'"
        "   AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY array_position(ARRAY['memories', 'entities', 'relationships',"
        "                               'conversations'], c.relname::text), a.attnum";
    const int n = (int) (sizeof(expected_columns) / sizeof(expected_columns[0]));
    PGresult *res = PQexec(conn, sql);

    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    cr_expect_eq(PQntuples(res), n, "%d columns, want %d", PQntuples(res), n);
    for (int i = 0; i < n && i < PQntuples(res); i++)
    {
        const struct expected_column *e = &expected_columns[i];
        const char *table = PQgetvalue(res, i, 0);
        const char *column = PQgetvalue(res, i, 1);
        const char *type = PQgetvalue(res, i, 2);
        bool not_null = strcmp(PQgetvalue(res, i, 3), "t") == 0;
        const char *def = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);

        cr_expect(strcmp(table, e->table) == 0 && strcmp(column, e->column) == 0,
                  "column %d is %s.%s, want %s.%s", i + 1, table, column, e->table, e->column);
        cr_expect_str_eq(type, e->type, "%s.%s has type %s, want %s", e->table, e->column, type,
                         e->type);
        cr_expect_eq(not_null, e->not_null, "%s.%s NOT NULL is %d, want %d", e->table, e->column,
                     not_null, e->not_null);
        cr_expect((def == NULL && e->default_ == NULL) ||
                      (def && e->default_ && strcmp(def, e->default_) == 0),
                  "%s.%s default is %s, want %s", e->table, e->column, def ? def : "(none)",
                  e->default_ ? e->default_ : "(none)");
    }
    PQclear(res);
}

Test(schema, has_the_seven_indexes_two_of_them_gin)
{
    static const char sql[] =
        "SELECT string_agg(c.relname || ':' || am.amname || ':' || t.relname, ','"
        "                  ORDER BY c.relname)"
        "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        "  JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am am ON am.oid = c.relam"
        " WHERE t.relnamespace = 'memori'::regnamespace";
    const char *expect = "conversations_pkey:btree:conversations,"
                         "entities_pkey:btree:entities,"
                         "idx_entities_type:btree:entities,"
                         "idx_entities_user_id:btree:entities,"
                         "idx_memories_category:btree:memories,"
                         "idx_memories_content_tsv:gin:memories,"
                         "idx_memories_created_at:btree:memories,"
                         "idx_memories_metadata:gin:memories,"
                         "idx_memories_user_id:btree:memories,"
                         "memories_pkey:btree:memories,"
                         "relationships_pkey:btree:relationships";
    const char *got = value_of(sql);

    cr_assert_str_eq(got, expect, "indexes are\n  %s\nwant\n  %s", got, expect);
    got = value_of("SELECT pg_get_indexdef('memori.idx_memories_created_at'::regclass)");
    cr_assert_str_eq(got,
                     "CREATE INDEX idx_memories_created_at ON memori.memories USING btree "
                     "(created_at DESC)",
                     "idx_memories_created_at is \"%s\"", got);
}

Test(schema, content_tsv_trigger_fires_before_insert_or_update_for_each_row)
{
    const char *got;

    /* tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32. */
    got = value_of("SELECT tgtype || ' ' || tgenabled::text || ' ' || tgfoid::regproc"
                   "  FROM pg_trigger WHERE tgrelid = 'memori.memories'::regclass"
                   "   AND tgname = 'trigger_update_content_tsv'");
    cr_assert_str_eq(got, "23 O memori.update_content_tsv", "trigger is \"%s\"", got);
    got = value_of("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                   " WHERE c.relnamespace = 'memori'::regnamespace AND NOT t.tgisinternal");
    cr_assert_str_eq(got, "1", "%s user triggers in memori, want 1", got);
}

Test(schema, relationships_reference_entities_twice)
{
    static const char sql[] =
        "SELECT string_agg(a.attname || '->' || confrelid::regclass || '(' || fa.attname || ')',"
        "                  ',' ORDER BY a.attname)"
        "  FROM pg_constraint k"
        "  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]"
        "  JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1]"
        " WHERE k.contype = 'f' AND k.connamespace = 'memori'::regnamespace"
        "   AND cardinality(k.conkey) = 1";
    const char *expect = "source_entity_id->memori.entities(id),"
                         "target_entity_id->memori.entities(id)";
    const char *got = value_of(sql);

    cr_assert_str_eq(got, expect, "foreign keys are \"%s\", want \"%s\"", got, expect);
    got = value_of("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                   " AND conrelid = 'memori.relationships'::regclass");
    cr_assert_str_eq(got, "2", "%s foreign keys on relationships, want 2", got);
    got = value_of("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                   " AND connamespace = 'memori'::regnamespace");
    cr_assert_str_eq(got, "2", "%s foreign keys in memori, want 2", got);
}

Test(schema, serial_keys_own_integer_sequences)
{
    static const char sql[] =
        "SELECT string_agg(t || '=' || coalesce(pg_get_serial_sequence('memori.' || t, 'id'), '-')"
        "                  || ':' || coalesce((SELECT format_type(seqtypid, NULL) FROM pg_sequence"
        "                     WHERE seqrelid = pg_get_serial_sequence('memori.' || t, 'id')"
        "                                      ::regclass), '-'), ',' ORDER BY t)"
        "  FROM unnest(ARRAY['conversations', 'entities', 'memories', 'relationships']) t";
    const char *expect = "conversations=memori.conversations_id_seq:integer,"
                         "entities=memori.entities_id_seq:integer,"
                         "memories=memori.memories_id_seq:integer,"
                         "relationships=memori.relationships_id_seq:integer";
    const char *got = value_of(sql);

    cr_assert_str_eq(got, expect, "sequences are \"%s\", want \"%s\"", got, expect);
}

Test(schema, the_trigger_fills_content_tsv_on_insert_and_recomputes_it_on_update)
{
    const char *got;

    cr_assert(pgh_exec(conn, "INSERT INTO memori.memories (user_id, content, content_tsv)"
                             " VALUES ('u1', 'The agent walked into a dark room',"
                             "         'stale'::tsvector)"));
    got = value_of("SELECT (content_tsv = to_tsvector('english', content))::text || ' '"
                   "       || content_tsv::text FROM memori.memories WHERE user_id = 'u1'");
    cr_assert_str_eq(got, "true 'agent':2 'dark':6 'room':7 'walk':3", "after insert: \"%s\"", got);

    cr_assert(pgh_exec(conn, "UPDATE memori.memories SET content = 'Bright gardens bloom'"
                             " WHERE user_id = 'u1'"));
    got = value_of("SELECT (content_tsv = to_tsvector('english', content))::text || ' '"
                   "       || content_tsv::text FROM memori.memories WHERE user_id = 'u1'");
    cr_assert_str_eq(got, "true 'bloom':3 'bright':1 'garden':2", "after update: \"%s\"", got);

    /* An update of another column recomputes it too (BEFORE UPDATE, any column). */
    cr_assert(pgh_exec(conn, "UPDATE memori.memories SET content_tsv = NULL, use_count = 1"
                             " WHERE user_id = 'u1'"));
    got = value_of("SELECT (content_tsv = to_tsvector('english', content))::text"
                   "  FROM memori.memories WHERE user_id = 'u1'");
    cr_assert_str_eq(got, "true", "after an update of other columns: \"%s\"", got);
}

Test(schema, cleanup_deletes_exactly_the_expired_memories)
{
    const char *got;

    cr_assert(pgh_exec(conn, "INSERT INTO memori.memories (user_id, content, expires_at) VALUES"
                             " ('past', 'a', now() - interval '1 day'),"
                             " ('past', 'b', now() - interval '1 minute'),"
                             " ('past', 'c', now() - interval '1 second'),"
                             " ('never', 'd', NULL), ('never', 'e', NULL),"
                             " ('future', 'f', now() + interval '1 hour'),"
                             " ('future', 'g', now() + interval '30 days')"));
    got = value_of("SELECT memori.cleanup_expired_memories()");
    cr_assert_str_eq(got, "3", "cleanup returned %s, want 3", got);
    got = value_of("SELECT string_agg(user_id || ':' || content, ',' ORDER BY content)"
                   "  FROM memori.memories");
    cr_assert_str_eq(got, "never:d,never:e,future:f,future:g", "rows left: \"%s\"", got);
    got = value_of("SELECT memori.cleanup_expired_memories()");
    cr_assert_str_eq(got, "0", "a second cleanup returned %s, want 0", got);
}
