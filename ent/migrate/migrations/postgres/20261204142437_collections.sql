-- Modify "files" table
ALTER TABLE "files" ADD COLUMN "collection" character varying NOT NULL DEFAULT 'default';
-- Modify "uploads" table
ALTER TABLE "uploads" ADD COLUMN "collection" character varying NOT NULL DEFAULT 'default';
