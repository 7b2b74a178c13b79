-- Create "file_variants" table
CREATE TABLE `file_variants` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `file_id` uuid NOT NULL, `name` text NOT NULL, `file_name` text NOT NULL, `width` integer NOT NULL, `height` integer NOT NULL, `content_type` text NOT NULL, `size` integer NOT NULL, `created_at` datetime NOT NULL);
-- Create index "file_variants_file_name_key" to table: "file_variants"
CREATE UNIQUE INDEX `file_variants_file_name_key` ON `file_variants` (`file_name`);
-- Create index "filevariant_file_id_name" to table: "file_variants"
CREATE UNIQUE INDEX `filevariant_file_id_name` ON `file_variants` (`file_id`, `name`);
