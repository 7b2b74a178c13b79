-- Modify "files" table
ALTER TABLE "files" ADD COLUMN "owner" character varying NOT NULL DEFAULT 'local', ADD COLUMN "deleted_at" timestamptz NULL;
-- Create index "file_deleted_at" to table: "files"
CREATE INDEX "file_deleted_at" ON "files" ("deleted_at");
-- Create index "file_owner_created_at" to table: "files"
CREATE INDEX "file_owner_created_at" ON "files" ("owner", "created_at");
-- Modify "uploads" table
ALTER TABLE "uploads" ADD COLUMN "owner" character varying NOT NULL DEFAULT 'local';
-- Create index "upload_owner_expires_at" to table: "uploads"
CREATE INDEX "upload_owner_expires_at" ON "uploads" ("owner", "expires_at");
