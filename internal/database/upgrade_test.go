package database

import (
	"context"
	"testing"
)

// checkUpgraded checks what the migrations after the first did to rows
// that were there before them: files saved before owners existed belong to
// development mode's user and are not being deleted.
func checkUpgraded(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	f, err := db.Ent.File.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Owner != "local" || f.DeletedAt != nil {
		t.Errorf("upgraded file: owner %q, deleted_at %v", f.Owner, f.DeletedAt)
	}
	u, err := db.Ent.Upload.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Owner != "local" {
		t.Errorf("upgraded upload: owner %q", u.Owner)
	}
}
