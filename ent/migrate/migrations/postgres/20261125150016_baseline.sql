-- Create "files" table
CREATE TABLE "files" ("id" uuid NOT NULL, "bucket" character varying NOT NULL, "file_name" character varying NOT NULL, "original_name" character varying NOT NULL, "size" bigint NOT NULL, "content_type" character varying NOT NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "file_created_at" to table: "files"
CREATE INDEX "file_created_at" ON "files" ("created_at");
-- Create index "files_file_name_key" to table: "files"
CREATE UNIQUE INDEX "files_file_name_key" ON "files" ("file_name");
-- Create "uploads" table
CREATE TABLE "uploads" ("id" uuid NOT NULL, "file_name" character varying NOT NULL, "original_name" character varying NOT NULL, "size" bigint NOT NULL, "content_type" character varying NOT NULL, "checksum_sha256" character varying NOT NULL DEFAULT '', "expires_at" timestamptz NOT NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "upload_expires_at" to table: "uploads"
CREATE INDEX "upload_expires_at" ON "uploads" ("expires_at");
-- Create index "uploads_file_name_key" to table: "uploads"
CREATE UNIQUE INDEX "uploads_file_name_key" ON "uploads" ("file_name");
