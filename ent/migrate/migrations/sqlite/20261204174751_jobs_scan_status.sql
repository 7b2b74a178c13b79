-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_files" table
CREATE TABLE `new_files` (`id` uuid NOT NULL, `bucket` text NOT NULL, `file_name` text NOT NULL, `original_name` text NOT NULL, `size` integer NOT NULL, `content_type` text NOT NULL, `created_at` datetime NOT NULL, `owner` text NOT NULL DEFAULT ('local'), `collection` text NOT NULL DEFAULT ('default'), `folder` text NOT NULL DEFAULT (''), `metadata` json NOT NULL DEFAULT ('{}'), `status` text NOT NULL DEFAULT ('READY'), `scan_result` text NULL, `deleted_at` datetime NULL, PRIMARY KEY (`id`));
-- Copy rows from old table "files" to new temporary table "new_files"
INSERT INTO `new_files` (`id`, `bucket`, `file_name`, `original_name`, `size`, `content_type`, `created_at`, `owner`, `collection`, `folder`, `metadata`, `deleted_at`) SELECT `id`, `bucket`, `file_name`, `original_name`, `size`, `content_type`, `created_at`, `owner`, `collection`, `folder`, `metadata`, `deleted_at` FROM `files`;
-- Drop "files" table after copying rows
DROP TABLE `files`;
-- Rename temporary table "new_files" to "files"
ALTER TABLE `new_files` RENAME TO `files`;
-- Create index "files_file_name_key" to table: "files"
CREATE UNIQUE INDEX `files_file_name_key` ON `files` (`file_name`);
-- Create index "file_created_at" to table: "files"
CREATE INDEX `file_created_at` ON `files` (`created_at`);
-- Create index "file_owner_created_at_id" to table: "files"
CREATE INDEX `file_owner_created_at_id` ON `files` (`owner`, `created_at`, `id`);
-- Create index "file_deleted_at" to table: "files"
CREATE INDEX `file_deleted_at` ON `files` (`deleted_at`);
-- Create index "file_owner_folder_created_at_id" to table: "files"
CREATE INDEX `file_owner_folder_created_at_id` ON `files` (`owner`, `folder`, `created_at`, `id`);
-- Create index "file_metadata" to table: "files"
CREATE INDEX `file_metadata` ON `files` (`metadata`);
-- Create "jobs" table
CREATE TABLE `jobs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `file_id` uuid NOT NULL, `kind` text NOT NULL, `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `last_error` text NULL, `created_at` datetime NOT NULL);
-- Create index "job_next_attempt_at" to table: "jobs"
CREATE INDEX `job_next_attempt_at` ON `jobs` (`next_attempt_at`);
-- Create index "job_file_id" to table: "jobs"
CREATE INDEX `job_file_id` ON `jobs` (`file_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
