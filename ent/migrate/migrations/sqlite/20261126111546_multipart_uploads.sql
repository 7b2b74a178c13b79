-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_uploads" table
CREATE TABLE `new_uploads` (`id` uuid NOT NULL, `file_name` text NOT NULL, `original_name` text NOT NULL, `size` integer NOT NULL, `content_type` text NOT NULL, `checksum_sha256` text NOT NULL DEFAULT (''), `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL, `owner` text NOT NULL DEFAULT ('local'), `multipart_id` text NOT NULL DEFAULT (''), `part_size` integer NOT NULL DEFAULT (0), `part_count` integer NOT NULL DEFAULT (0), `part_checksums` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Copy rows from old table "uploads" to new temporary table "new_uploads"
INSERT INTO `new_uploads` (`id`, `file_name`, `original_name`, `size`, `content_type`, `checksum_sha256`, `expires_at`, `created_at`, `owner`) SELECT `id`, `file_name`, `original_name`, `size`, `content_type`, `checksum_sha256`, `expires_at`, `created_at`, `owner` FROM `uploads`;
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
