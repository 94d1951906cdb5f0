-- memori_schema.sql: the Memori agent-memory schema.
--
-- Source: the decision record seeds/000_644eca4d6031b10d.txt, "Phase 1:
-- Infrastructure Setup", step 3 "Schema initialization" (~/.memori/init/01-schema.sql):
-- the same extension, tables, column types, defaults, keys, indexes, trigger and
-- functions. Two changes, neither of which alters the resulting objects:
--   * it is idempotent: IF NOT EXISTS, CREATE OR REPLACE, and CREATE OR REPLACE
--     TRIGGER (PostgreSQL 14 and later), so applying it again changes nothing;
--   * every name is schema-qualified and search_path is not changed (the record's
--     SET search_path would stay in effect for whatever runs next in the session).
-- It runs in one transaction: a failure leaves the database as it was.

BEGIN;

-- "already exists, skipping" notices on a second run are expected; keep them quiet.
SET LOCAL client_min_messages = warning;

-- Enable extensions
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Create memori schema
CREATE SCHEMA IF NOT EXISTS memori;

-- Memories table
CREATE TABLE IF NOT EXISTS memori.memories (
    id SERIAL PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    content TEXT NOT NULL,
    category VARCHAR(50) DEFAULT 'context',
    metadata JSONB DEFAULT '{}',
    content_tsv TSVECTOR,
    source_type VARCHAR(50),
    confidence FLOAT DEFAULT 0.5,
    lineage JSONB DEFAULT '[]',
    last_used_at TIMESTAMP,
    use_count INTEGER DEFAULT 0,
    expires_at TIMESTAMP,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);

-- Entities table
CREATE TABLE IF NOT EXISTS memori.entities (
    id SERIAL PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    entity_type VARCHAR(100),
    entity_name VARCHAR(255) NOT NULL,
    content TEXT,
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMP DEFAULT NOW()
);

-- Relationships table
CREATE TABLE IF NOT EXISTS memori.relationships (
    id SERIAL PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    source_entity_id INTEGER REFERENCES memori.entities(id),
    target_entity_id INTEGER REFERENCES memori.entities(id),
    relationship_type VARCHAR(100),
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMP DEFAULT NOW()
);

-- Conversations table
CREATE TABLE IF NOT EXISTS memori.conversations (
    id SERIAL PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    session_id VARCHAR(255),
    messages JSONB DEFAULT '[]',
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);

-- Indexes
CREATE INDEX IF NOT EXISTS idx_memories_user_id ON memori.memories(user_id);
CREATE INDEX IF NOT EXISTS idx_memories_category ON memori.memories(category);
CREATE INDEX IF NOT EXISTS idx_memories_created_at ON memori.memories(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_memories_content_tsv ON memori.memories USING GIN(content_tsv);
CREATE INDEX IF NOT EXISTS idx_memories_metadata ON memori.memories USING GIN(metadata);
CREATE INDEX IF NOT EXISTS idx_entities_user_id ON memori.entities(user_id);
CREATE INDEX IF NOT EXISTS idx_entities_type ON memori.entities(entity_type);

-- Full-text search trigger
CREATE OR REPLACE FUNCTION memori.update_content_tsv()
RETURNS TRIGGER AS $$
BEGIN
    NEW.content_tsv := to_tsvector('english', NEW.content);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trigger_update_content_tsv
BEFORE INSERT OR UPDATE ON memori.memories
FOR EACH ROW
EXECUTE FUNCTION memori.update_content_tsv();

-- TTL cleanup function
CREATE OR REPLACE FUNCTION memori.cleanup_expired_memories()
RETURNS INTEGER AS $$
DECLARE
    deleted_count INTEGER;
BEGIN
    DELETE FROM memori.memories WHERE expires_at < NOW();
    GET DIAGNOSTICS deleted_count = ROW_COUNT;
    RETURN deleted_count;
END;
$$ LANGUAGE plpgsql;

COMMIT;
