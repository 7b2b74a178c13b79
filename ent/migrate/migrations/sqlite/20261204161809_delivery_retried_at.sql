-- Add column "retried_at" to table: "deliveries"
ALTER TABLE `deliveries` ADD COLUMN `retried_at` datetime NULL;
