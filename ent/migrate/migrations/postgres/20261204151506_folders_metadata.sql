-- Modify "files" table
ALTER TABLE "files" ADD COLUMN "folder" character varying NOT NULL DEFAULT '', ADD COLUMN "metadata" jsonb NOT NULL DEFAULT '{}';
-- Create index "file_metadata" to table: "files"
CREATE INDEX "file_metadata" ON "files" USING gin ("metadata" jsonb_path_ops);
-- Create index "file_owner_folder_created_at_id" to table: "files"
CREATE INDEX "file_owner_folder_created_at_id" ON "files" ("owner", "folder", "created_at", "id");
-- Modify "uploads" table
ALTER TABLE "uploads" ADD COLUMN "folder" character varying NOT NULL DEFAULT '', ADD COLUMN "metadata" jsonb NOT NULL DEFAULT '{}';
