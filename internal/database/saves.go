package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/metadatapair"
	"github.com/filegraph/filegraph/ent/predicate"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/files"
)

// Saves is files.Saves on PostgreSQL: a save's transaction in one round
// trip. Through ent it took five (BEGIN, the files' insert, the uploads'
// delete, the counts and events with the commit, and the empty
// transaction's COMMIT), and a user's usage row stayed locked across
// them. As Deletes does, it sends BEGIN, every statement and COMMIT as one
// simple query on a connection of its own, the values written in as
// literals; PostgreSQL runs the statements in turn and skips the rest
// after an error, which leaves the transaction failed for endTx to roll
// back. nil on SQLite.
type Saves struct{ db *sql.DB }

// Save implements files.Saves.
func (s *Saves) Save(ctx context.Context, fs []*ent.File, retire predicate.Upload, retired int, us []ent.Usage, ds []files.FolderDelta, evs []files.NewEvent) error {
	if len(fs) == 0 || len(evs) == 0 {
		return errors.New("database: a save without files or events")
	}
	var b strings.Builder
	b.WriteString("BEGIN;\n")
	if err := writeFiles(&b, fs); err != nil {
		return err
	}
	if err := writePairs(&b, fs); err != nil {
		return err
	}
	// The uploads' delete fails the transaction unless it finds every one:
	// one that expired or was swept meanwhile may not be saved. The
	// division is by a count the planner cannot fold, so it fails only
	// when run, and only then (22012: savedUploadsGone).
	sel := entsql.Dialect(dialect.Postgres).Select().From(entsql.Table(upload.Table))
	retire(sel)
	del, args := entsql.Dialect(dialect.Postgres).Delete(upload.Table).FromSelect(sel).Query()
	check, err := withLiterals(fmt.Sprintf("WITH r AS (%s RETURNING 1) SELECT 1 / (count(*) = %d)::int FROM r", del, retired), args)
	if err != nil {
		return err
	}
	b.WriteString(check + ";\n")
	counts, err := withLiterals(countsAndEvents(nil, us, ds, evs, "SELECT pg_notify(%s, '')"))
	if err != nil {
		return err
	}
	b.WriteString(counts + ";\nCOMMIT")

	conn, err := s.db.Conn(ctx)
	if err != nil {
		return mark(err)
	}
	if _, err := conn.ExecContext(ctx, b.String()); err != nil {
		endTx(ctx, conn)
		var pqErr *pq.Error
		switch {
		case errors.As(err, &pqErr) && pqErr.Code == "23505" && pqErr.Table == file.Table:
			return fmt.Errorf("%w: %v", files.ErrKeyTaken, err)
		case errors.As(err, &pqErr) && pqErr.Code == savedUploadsGone:
			return files.ErrUploadsGone
		}
		return mark(err)
	}
	return mark(conn.Close())
}

// savedUploadsGone is the error of Save's check that every upload was
// there to delete: division_by_zero.
const savedUploadsGone = "22012"

// writeFiles writes the INSERT of fs's rows, every column, to b, after
// setting on each file ent's defaults for the fields it leaves zero that
// have one and running ent's checks, as uploadValues does for uploads.
func writeFiles(b *strings.Builder, fs []*ent.File) error {
	b.WriteString("INSERT INTO " + file.Table + " (" + strings.Join(file.Columns, ", ") + ") VALUES ")
	for i, f := range fs {
		if f.ID == (uuid.UUID{}) {
			f.ID = file.DefaultID()
		}
		if f.CreatedAt.IsZero() {
			f.CreatedAt = file.DefaultCreatedAt()
		}
		if f.Collection == "" {
			f.Collection = file.DefaultCollection
		}
		if f.Metadata == nil {
			f.Metadata = schema.Metadata{}
		}
		if f.Status == "" {
			f.Status = file.DefaultStatus
		}
		if err := invalid("File",
			fieldCheck{file.FieldBucket, file.BucketValidator(f.Bucket)},
			fieldCheck{file.FieldFileName, file.FileNameValidator(f.FileName)},
			fieldCheck{file.FieldOriginalName, file.OriginalNameValidator(f.OriginalName)},
			fieldCheck{file.FieldSize, file.SizeValidator(f.Size)},
			fieldCheck{file.FieldContentType, file.ContentTypeValidator(f.ContentType)},
			fieldCheck{file.FieldOwner, file.OwnerValidator(f.Owner)},
			fieldCheck{file.FieldCollection, file.CollectionValidator(f.Collection)},
			fieldCheck{file.FieldStatus, file.StatusValidator(f.Status)},
		); err != nil {
			return err
		}
		vals := make([]any, len(file.Columns))
		for j, col := range file.Columns {
			switch col {
			case file.FieldID:
				vals[j] = f.ID
			case file.FieldBucket:
				vals[j] = f.Bucket
			case file.FieldFileName:
				vals[j] = f.FileName
			case file.FieldOriginalName:
				vals[j] = f.OriginalName
			case file.FieldSize:
				vals[j] = f.Size
			case file.FieldContentType:
				vals[j] = f.ContentType
			case file.FieldCreatedAt:
				vals[j] = f.CreatedAt
			case file.FieldOwner:
				vals[j] = f.Owner
			case file.FieldCollection:
				vals[j] = f.Collection
			case file.FieldFolder:
				vals[j] = f.Folder
			case file.FieldMetadata:
				vals[j] = f.Metadata
			case file.FieldStatus:
				vals[j] = string(f.Status)
			case file.FieldScanResult:
				vals[j] = f.ScanResult
			case file.FieldDeletedAt:
				vals[j] = f.DeletedAt
			default:
				return fmt.Errorf("database: Save does not write files.%s", col)
			}
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if err := writeRow(b, vals); err != nil {
			return fmt.Errorf("database: a file's row: %w", err)
		}
	}
	b.WriteString(";\n")
	return nil
}

// writePairs writes the INSERT of fs's metadata pairs (files.writePairs'
// rows) to b, if they have any.
func writePairs(b *strings.Builder, fs []*ent.File) error {
	n := 0
	for _, f := range fs {
		for k, v := range f.Metadata {
			if err := invalid("MetadataPair",
				fieldCheck{metadatapair.FieldOwner, metadatapair.OwnerValidator(f.Owner)},
				fieldCheck{metadatapair.FieldKey, metadatapair.KeyValidator(k)},
			); err != nil {
				return err
			}
			if n == 0 {
				b.WriteString("INSERT INTO " + metadatapair.Table + " (file_id, owner, key, value, created_at) VALUES ")
			} else {
				b.WriteString(", ")
			}
			n++
			if err := writeRow(b, []any{f.ID, f.Owner, k, v, f.CreatedAt}); err != nil {
				return err
			}
		}
	}
	if n > 0 {
		b.WriteString(";\n")
	}
	return nil
}

// writeRow writes vals to b as a VALUES row of literals: (v1, v2, ...).
func writeRow(b *strings.Builder, vals []any) error {
	b.WriteString("(")
	for i, v := range vals {
		lit, err := literal(v)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(lit)
	}
	b.WriteString(")")
	return nil
}
