-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_usages" table
CREATE TABLE `new_usages` (`owner` text NOT NULL, `pending_count` integer NOT NULL DEFAULT (0), `pending_bytes` integer NOT NULL DEFAULT (0), `saved_count` integer NOT NULL DEFAULT (0), `saved_bytes` integer NOT NULL DEFAULT (0), `file_writes` integer NOT NULL DEFAULT (0), PRIMARY KEY (`owner`));
-- Copy rows from old table "usages" to new temporary table "new_usages"
INSERT INTO `new_usages` (`owner`, `pending_count`, `pending_bytes`, `saved_count`, `saved_bytes`) SELECT `owner`, `pending_count`, `pending_bytes`, `saved_count`, `saved_bytes` FROM `usages`;
-- Drop "usages" table after copying rows
DROP TABLE `usages`;
-- Rename temporary table "new_usages" to "usages"
ALTER TABLE `new_usages` RENAME TO `usages`;
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
