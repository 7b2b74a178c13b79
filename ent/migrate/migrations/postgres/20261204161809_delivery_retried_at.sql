-- Modify "deliveries" table
ALTER TABLE "deliveries" ADD COLUMN "retried_at" timestamptz NULL;
