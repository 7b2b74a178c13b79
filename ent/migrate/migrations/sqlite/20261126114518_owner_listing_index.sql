-- Drop index "file_owner_created_at" from table: "files"
DROP INDEX `file_owner_created_at`;
-- Create index "file_owner_created_at_id" to table: "files"
CREATE INDEX `file_owner_created_at_id` ON `files` (`owner`, `created_at`, `id`);
