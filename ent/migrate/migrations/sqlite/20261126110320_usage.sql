-- Drop index "upload_owner_expires_at" from table: "uploads"
DROP INDEX `upload_owner_expires_at`;
-- Create "usages" table
CREATE TABLE `usages` (`owner` text NOT NULL, `pending_count` integer NOT NULL DEFAULT (0), `pending_bytes` integer NOT NULL DEFAULT (0), `saved_count` integer NOT NULL DEFAULT (0), `saved_bytes` integer NOT NULL DEFAULT (0), PRIMARY KEY (`owner`));

-- Backfill: each user's usage from the rows they have (written by hand; atlas.sum rehashed)
INSERT INTO "usages" ("owner", "pending_count", "pending_bytes", "saved_count", "saved_bytes") SELECT "owner", SUM("pc"), SUM("pb"), SUM("sc"), SUM("sb") FROM (SELECT "owner", COUNT(*) AS "pc", COALESCE(SUM("size"), 0) AS "pb", 0 AS "sc", 0 AS "sb" FROM "uploads" GROUP BY "owner" UNION ALL SELECT "owner", 0, 0, COUNT(*), COALESCE(SUM("size"), 0) FROM "files" WHERE "deleted_at" IS NULL GROUP BY "owner") AS "u" GROUP BY "owner";
