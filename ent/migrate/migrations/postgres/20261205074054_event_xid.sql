-- Modify "events" table: 0 for the rows there (no rewrite of the table),
-- the writing transaction's id for those written from now on by a replica
-- that does not set it (one of before this column, in a rolling upgrade).
ALTER TABLE "events" ADD COLUMN "xid" bigint NOT NULL DEFAULT 0;
ALTER TABLE "events" ALTER COLUMN "xid" SET DEFAULT ((pg_current_xact_id())::text)::bigint;
-- Create index "event_xid" to table: "events"
CREATE INDEX "event_xid" ON "events" ("xid");
