-- Drop index "file_owner_folder_created_at_id" from table: "files"
DROP INDEX "file_owner_folder_created_at_id";
-- Create index "file_owner_folder_created_at_id" to table: "files"
CREATE INDEX "file_owner_folder_created_at_id" ON "files" ("owner", "folder" varchar_pattern_ops, "created_at", "id") WHERE (deleted_at IS NULL);
