-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_events" table
CREATE TABLE `new_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `public_id` uuid NOT NULL, `type` text NOT NULL, `file_id` uuid NOT NULL, `owner` text NOT NULL, `collection` text NULL, `data` text NOT NULL, `created_at` datetime NOT NULL, `xid` integer NOT NULL DEFAULT (0));
-- Copy rows from old table "events" to new temporary table "new_events"
INSERT INTO `new_events` (`id`, `public_id`, `type`, `file_id`, `owner`, `collection`, `data`, `created_at`) SELECT `id`, `public_id`, `type`, `file_id`, `owner`, `collection`, `data`, `created_at` FROM `events`;
-- Drop "events" table after copying rows
DROP TABLE `events`;
-- Rename temporary table "new_events" to "events"
ALTER TABLE `new_events` RENAME TO `events`;
-- Create index "events_public_id_key" to table: "events"
CREATE UNIQUE INDEX `events_public_id_key` ON `events` (`public_id`);
-- Create index "event_created_at" to table: "events"
CREATE INDEX `event_created_at` ON `events` (`created_at`);
-- Create index "event_xid" to table: "events"
CREATE INDEX `event_xid` ON `events` (`xid`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
