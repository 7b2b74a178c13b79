-- Create "files" table
CREATE TABLE `files` (`id` uuid NOT NULL, `bucket` text NOT NULL, `file_name` text NOT NULL, `original_name` text NOT NULL, `size` integer NOT NULL, `content_type` text NOT NULL, `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "files_file_name_key" to table: "files"
CREATE UNIQUE INDEX `files_file_name_key` ON `files` (`file_name`);
-- Create index "file_created_at" to table: "files"
CREATE INDEX `file_created_at` ON `files` (`created_at`);
-- Create "uploads" table
CREATE TABLE `uploads` (`id` uuid NOT NULL, `file_name` text NOT NULL, `original_name` text NOT NULL, `size` integer NOT NULL, `content_type` text NOT NULL, `checksum_sha256` text NOT NULL DEFAULT (''), `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "uploads_file_name_key" to table: "uploads"
CREATE UNIQUE INDEX `uploads_file_name_key` ON `uploads` (`file_name`);
-- Create index "upload_expires_at" to table: "uploads"
CREATE INDEX `upload_expires_at` ON `uploads` (`expires_at`);
