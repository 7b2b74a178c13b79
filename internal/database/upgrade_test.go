package database

import (
	"context"
	"testing"
)

// checkUpgraded checks what the migrations after the first did to rows
// that were there before them: files saved before owners existed belong to
// development mode's user and are not being deleted; each user's usage row
// is backfilled from their rows; rows from before collections are in the
// default one.
func checkUpgraded(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	f, err := db.Ent.File.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Owner != "local" || f.DeletedAt != nil || f.Collection != "default" {
		t.Errorf("upgraded file: owner %q, deleted_at %v, collection %q", f.Owner, f.DeletedAt, f.Collection)
	}
	u, err := db.Ent.Upload.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Owner != "local" || u.Collection != "default" {
		t.Errorf("upgraded upload: owner %q, collection %q", u.Owner, u.Collection)
	}
	us, err := db.Ent.Usage.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].ID != "local" || us[0].PendingCount != 1 || us[0].PendingBytes != 7 || us[0].SavedCount != 1 || us[0].SavedBytes != 5 {
		t.Errorf("backfilled usage: %+v", us)
	}
}
