// Package migrations holds the versioned schema migrations, one Atlas
// directory per dialect, generated from ent/schema by diff.go and applied
// by internal/database. A schema change ships with a new migration file:
//
//	go run -mod=mod ./ent/migrate/migrations/diff.go <name>
//
// Files are never edited after they are committed; atlas.sum guards that.
package migrations

import "embed"

// FS holds the postgres and sqlite directories.
//
//go:embed postgres sqlite
var FS embed.FS
