-- Modify "usages" table
ALTER TABLE "usages" ADD COLUMN "file_writes" bigint NOT NULL DEFAULT 0;
