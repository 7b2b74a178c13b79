-- Drop index "delivery_status_next_attempt_at" from table: "deliveries"
DROP INDEX `delivery_status_next_attempt_at`;
-- Create index "delivery_status_url_next_attempt_at" to table: "deliveries"
CREATE INDEX `delivery_status_url_next_attempt_at` ON `deliveries` (`status`, `url`, `next_attempt_at`);
