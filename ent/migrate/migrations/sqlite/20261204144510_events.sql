-- Create "deliveries" table
CREATE TABLE `deliveries` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `url` text NOT NULL, `file_id` uuid NOT NULL, `status` text NOT NULL DEFAULT ('pending'), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `last_error` text NULL, `created_at` datetime NOT NULL, `done_at` datetime NULL, `event_id` integer NOT NULL, CONSTRAINT `deliveries_events_deliveries` FOREIGN KEY (`event_id`) REFERENCES `events` (`id`) ON DELETE NO ACTION);
-- Create index "delivery_status_next_attempt_at" to table: "deliveries"
CREATE INDEX `delivery_status_next_attempt_at` ON `deliveries` (`status`, `next_attempt_at`);
-- Create index "delivery_file_id_url_event_id" to table: "deliveries"
CREATE INDEX `delivery_file_id_url_event_id` ON `deliveries` (`file_id`, `url`, `event_id`);
-- Create index "delivery_done_at" to table: "deliveries"
CREATE INDEX `delivery_done_at` ON `deliveries` (`done_at`);
-- Create "events" table
CREATE TABLE `events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `public_id` uuid NOT NULL, `type` text NOT NULL, `file_id` uuid NOT NULL, `owner` text NOT NULL, `collection` text NULL, `data` text NOT NULL, `created_at` datetime NOT NULL);
-- Create index "events_public_id_key" to table: "events"
CREATE UNIQUE INDEX `events_public_id_key` ON `events` (`public_id`);
-- Create index "event_created_at" to table: "events"
CREATE INDEX `event_created_at` ON `events` (`created_at`);
