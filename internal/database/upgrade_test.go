package database

import "testing"

// checkUpgraded checks what the migrations after the first did to rows
// that were there before them.
func checkUpgraded(t *testing.T, db *DB) {}
