-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_files" table
CREATE TABLE `new_files` (`id` uuid NOT NULL, `bucket` text NOT NULL, `file_name` text NOT NULL, `original_name` text NOT NULL, `size` integer NOT NULL, `content_type` text NOT NULL, `created_at` datetime NOT NULL, `owner` text NOT NULL DEFAULT ('local'), `collection` text NOT NULL DEFAULT ('default'), `folder` text NOT NULL DEFAULT (''), `metadata` json NOT NULL DEFAULT ('{}'), `deleted_at` datetime NULL, PRIMARY KEY (`id`));
-- Copy rows from old table "files" to new temporary table "new_files"
INSERT INTO `new_files` (`id`, `bucket`, `file_name`, `original_name`, `size`, `content_type`, `created_at`, `owner`, `collection`, `deleted_at`) SELECT `id`, `bucket`, `file_name`, `original_name`, `size`, `content_type`, `created_at`, `owner`, `collection`, `deleted_at` FROM `files`;
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
-- Create "new_uploads" table
CREATE TABLE `new_uploads` (`id` uuid NOT NULL, `file_name` text NOT NULL, `original_name` text NOT NULL, `size` integer NOT NULL, `content_type` text NOT NULL, `checksum_sha256` text NOT NULL DEFAULT (''), `folder` text NOT NULL DEFAULT (''), `metadata` json NOT NULL DEFAULT ('{}'), `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL, `owner` text NOT NULL DEFAULT ('local'), `collection` text NOT NULL DEFAULT ('default'), `multipart_id` text NOT NULL DEFAULT (''), `part_size` integer NOT NULL DEFAULT (0), `part_count` integer NOT NULL DEFAULT (0), `part_checksums` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Copy rows from old table "uploads" to new temporary table "new_uploads"
INSERT INTO `new_uploads` (`id`, `file_name`, `original_name`, `size`, `content_type`, `checksum_sha256`, `expires_at`, `created_at`, `owner`, `collection`, `multipart_id`, `part_size`, `part_count`, `part_checksums`) SELECT `id`, `file_name`, `original_name`, `size`, `content_type`, `checksum_sha256`, `expires_at`, `created_at`, `owner`, `collection`, `multipart_id`, `part_size`, `part_count`, `part_checksums` FROM `uploads`;
-- Drop "uploads" table after copying rows
DROP TABLE `uploads`;
-- Rename temporary table "new_uploads" to "uploads"
ALTER TABLE `new_uploads` RENAME TO `uploads`;
-- Create index "uploads_file_name_key" to table: "uploads"
CREATE UNIQUE INDEX `uploads_file_name_key` ON `uploads` (`file_name`);
-- Create index "upload_expires_at" to table: "uploads"
CREATE INDEX `upload_expires_at` ON `uploads` (`expires_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
