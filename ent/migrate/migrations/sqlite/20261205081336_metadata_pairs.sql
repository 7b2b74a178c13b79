-- Create "metadata_pairs" table
CREATE TABLE `metadata_pairs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `owner` text NOT NULL, `key` text NOT NULL, `value` text NOT NULL, `created_at` datetime NOT NULL, `file_id` uuid NOT NULL, CONSTRAINT `metadata_pairs_files_metadata_pairs` FOREIGN KEY (`file_id`) REFERENCES `files` (`id`) ON DELETE CASCADE);
-- Create index "metadatapair_file_id_key" to table: "metadata_pairs"
CREATE UNIQUE INDEX `metadatapair_file_id_key` ON `metadata_pairs` (`file_id`, `key`);
-- Create index "metadatapair_owner_key_value_created_at_file_id" to table: "metadata_pairs"
CREATE UNIQUE INDEX `metadatapair_owner_key_value_created_at_file_id` ON `metadata_pairs` (`owner`, `key`, `value`, `created_at`, `file_id`);
-- Backfill: a row for each pair of each file's metadata (written by hand; atlas.sum rehashed)
INSERT INTO `metadata_pairs` (`owner`, `key`, `value`, `created_at`, `file_id`) SELECT `f`.`owner`, `m`.`key`, `m`.`value`, `f`.`created_at`, `f`.`id` FROM `files` AS `f`, json_each(`f`.`metadata`) AS `m`;
