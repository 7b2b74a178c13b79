-- Modify "uploads" table
ALTER TABLE "uploads" ADD COLUMN "multipart_id" character varying NOT NULL DEFAULT '', ADD COLUMN "part_size" bigint NOT NULL DEFAULT 0, ADD COLUMN "part_count" bigint NOT NULL DEFAULT 0, ADD COLUMN "part_checksums" boolean NOT NULL DEFAULT false;
