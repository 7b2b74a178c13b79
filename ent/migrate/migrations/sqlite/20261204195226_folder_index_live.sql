-- Drop index "file_owner_folder_created_at_id" from table: "files"
DROP INDEX `file_owner_folder_created_at_id`;
-- Create index "file_owner_folder_created_at_id" to table: "files" (written by hand: Atlas rebuilt the whole table for the WHERE; atlas.sum rehashed)
CREATE INDEX `file_owner_folder_created_at_id` ON `files` (`owner`, `folder`, `created_at`, `id`) WHERE deleted_at IS NULL;
