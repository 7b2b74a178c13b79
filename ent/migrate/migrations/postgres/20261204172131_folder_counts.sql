-- Create "folder_counts" table
CREATE TABLE "folder_counts" ("id" uuid NOT NULL, "owner" character varying NOT NULL, "collection" character varying NOT NULL, "parent" character varying NOT NULL, "name" character varying NOT NULL, "file_count" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- Create index "foldercount_owner_parent_name_collection" to table: "folder_counts"
CREATE UNIQUE INDEX "foldercount_owner_parent_name_collection" ON "folder_counts" ("owner", "parent", "name", "collection");

-- Backfill: each folder of each file not being deleted, and every folder above it (written by hand; atlas.sum rehashed)
INSERT INTO "folder_counts" ("id", "owner", "collection", "parent", "name", "file_count") WITH RECURSIVE "p" ("owner", "collection", "parent", "name", "rest") AS (SELECT "owner", "collection", '', split_part("folder", '/', 1), substr("folder", length(split_part("folder", '/', 1)) + 2) FROM "files" WHERE "deleted_at" IS NULL AND "folder" <> '' UNION ALL SELECT "owner", "collection", CASE WHEN "parent" = '' THEN "name" ELSE "parent" || '/' || "name" END, split_part("rest", '/', 1), substr("rest", length(split_part("rest", '/', 1)) + 2) FROM "p" WHERE "rest" <> '') SELECT gen_random_uuid(), "owner", "collection", "parent", "name", COUNT(*) FROM "p" GROUP BY "owner", "collection", "parent", "name";
