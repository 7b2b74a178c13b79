-- Create "tombstones" table
CREATE TABLE "tombstones" ("id" uuid NOT NULL, "file_name" character varying NOT NULL, "delete_after" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "tombstone_delete_after" to table: "tombstones"
CREATE INDEX "tombstone_delete_after" ON "tombstones" ("delete_after");
