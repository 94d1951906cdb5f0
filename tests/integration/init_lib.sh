# init_lib.sh - helpers of the init tests (after lib.sh).

# mb_source_objects [ROWS]: the source's schemas (memori, golden and the run
# tables) and its data; the target stays empty.
mb_source_objects()
{
    local f
    for f in "$MB_SOURCE_DIR/sql/memori_schema.sql" "$MB_SOURCE_DIR/tests/golden/setup.sql" \
        "$MB_SOURCE_DIR/tests/integration/run_setup.sql"; do
        mb_sql_file "$SRC" "$f"
    done
    "${PSQL[@]}" -d "$SRC" -v rows="${1:-20000}" -f "$MB_SOURCE_DIR/tests/integration/init_seed.sql" \
        >/dev/null || mb_die "could not seed the source"
}

# The catalog of the schemas, as text both sides can be compared by: columns
# (type, NOT NULL, default), constraints, indexes, triggers, functions.
MB_CATALOG_SQL="SELECT kind, text FROM (
  SELECT 'column' AS kind, format('%s.%s.%s %s %s %s', n.nspname, c.relname, a.attname,
         format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '')) AS text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE n.nspname IN ('memori', 'golden') AND c.relkind = 'r'
  UNION ALL
  SELECT 'constraint', format('%s.%s %s %s', n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid))
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('memori', 'golden')
  UNION ALL
  SELECT 'index', indexdef FROM pg_indexes WHERE schemaname IN ('memori', 'golden')
  UNION ALL
  SELECT 'trigger', pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('memori', 'golden') AND NOT t.tgisinternal
    AND t.tgname <> 'memori_bridge_fence'
  UNION ALL
  SELECT 'function', pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname IN ('memori', 'golden')
  UNION ALL
  SELECT 'collation', format('%s.%s %s', n.nspname, co.collname,
         to_jsonb(co) - 'oid' - 'collnamespace' - 'collowner' - 'collversion') FROM pg_collation co
  JOIN pg_namespace n ON n.oid = co.collnamespace WHERE n.nspname IN ('memori', 'golden')
  UNION ALL
  SELECT 'column collation', format('%s.%s.%s %s', n.nspname, c.relname, a.attname, co.collname)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_collation co ON co.oid = a.attcollation
  WHERE n.nspname IN ('memori', 'golden') AND co.collnamespace = n.oid
  UNION ALL
  SELECT 'type', format('%s.%s %s', n.nspname, t.typname, t.typtype) FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname IN ('memori', 'golden') AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
     OR n.nspname IN ('memori', 'golden') AND t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class k WHERE k.oid = t.typrelid AND k.relkind = 'c')
) x ORDER BY 1, 2"

mb_compare_schema()
{
    mb_compare "the schemas' catalog" "$MB_CATALOG_SQL"
}

# Every table's rows, and (unless given "rows") the sequences, which run does
# not stream: cutover sets them.
mb_compare_all()
{
    local t s
    mb_compare_memori
    for t in golden.gen golden.pair golden.more_types golden.nopk; do
        mb_compare "$t"
    done
    mb_compare golden.full_nopk "SELECT * FROM golden.full_nopk ORDER BY a, b, c::text, d"
    mb_compare golden.types "SELECT * FROM golden.types ORDER BY id"
    [ "${1:-}" = rows ] && return
    for s in memori.memories_id_seq memori.entities_id_seq memori.relationships_id_seq \
        memori.conversations_id_seq golden.gen_id_seq; do
        mb_compare "$s" "SELECT last_value, is_called FROM $s"
    done
}
