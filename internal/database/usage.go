package database

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/ent/upload"
)

// Usages changes each user's usage row (ent/schema/usage.go), in the
// caller's transaction, by one statement that PostgreSQL and SQLite both
// run: an upsert that adds to the row, so that no row is read first and
// the row is locked only from there to the commit. The rules
// (files.Service) decide what to add and within which bounds.
type Usages struct {
	reserve atomic.Pointer[reserveStatement]
	// For Issue: the client and its driver, whether it is PostgreSQL, and
	// the statements written (issueKey: string).
	client   *ent.Client
	drv      dialect.Driver
	postgres bool
	issues   sync.Map
}

func newUsages(client *ent.Client, drv dialect.Driver, name string) *Usages {
	return &Usages{client: client, drv: drv, postgres: name == dialect.Postgres}
}

// reserveStatement is addUsage refused past one pair of bounds, written
// once: the bounds are the same for every call of a server, and as
// literals they cost no parameters to bind.
type reserveStatement struct {
	maxPending, quota int64
	query             string
}

const addUsage = `INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes, file_writes)
	VALUES ($1, $2, $3, $4, $5, $6)` + usageOnConflict

const usageOnConflict = `
	ON CONFLICT (owner) DO UPDATE SET
		pending_count = usages.pending_count + excluded.pending_count,
		pending_bytes = usages.pending_bytes + excluded.pending_bytes,
		saved_count = usages.saved_count + excluded.saved_count,
		saved_bytes = usages.saved_bytes + excluded.saved_bytes,
		file_writes = usages.file_writes + excluded.file_writes`

// Add adds d's counts and bytes to the row of user d.ID, creating it at
// need, whatever the totals come to: for what leaves (saves, sweeps,
// deletes), which no limit holds back.
func (*Usages) Add(ctx context.Context, tx *ent.Tx, d ent.Usage) error {
	_, err := tx.ExecContext(ctx, addUsage, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes, d.FileWrites)
	return err
}

// Reserve adds d as Add does if the row then holds at most maxPending
// pending uploads, and at most quota bytes saved and pending together (0:
// no bound), and reports whether it did. A row it creates is not checked:
// the caller checks what it adds on its own.
func (u *Usages) Reserve(ctx context.Context, tx *ent.Tx, d ent.Usage, maxPending, quota int64) (bool, error) {
	res, err := tx.ExecContext(ctx, u.reserveQuery(maxPending, quota), d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes, d.FileWrites)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, mark(err)
}

func (u *Usages) reserveQuery(maxPending, quota int64) string {
	if st := u.reserve.Load(); st != nil && st.maxPending == maxPending && st.quota == quota {
		return st.query
	}
	var conds []string
	if maxPending > 0 {
		conds = append(conds, fmt.Sprintf("usages.pending_count + excluded.pending_count <= %d", maxPending))
	}
	if quota > 0 {
		conds = append(conds, fmt.Sprintf("usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= %d", quota))
	}
	query := addUsage
	if len(conds) > 0 {
		query += "\n\tWHERE " + strings.Join(conds, " AND ")
	}
	u.reserve.Store(&reserveStatement{maxPending, quota, query})
	return query
}

// Issue writes the uploads' rows and reserves d as Reserve does, all or
// nothing, and reports whether the reservation fit (nothing is written if
// not). On PostgreSQL it is one statement, sent once and committed on its
// own: the user's row is locked for that statement and its commit, and a
// user's concurrent calls queue for no round trip. The rows are written
// with ent's defaults and checks (uploadValues), by a statement written
// once per number of rows: ent's builders cost more than the statement on
// this hot path. A reservation that does not fit sets the row's
// pending_count to NULL, which its NOT NULL refuses, so the statement and
// its insert fail together. On SQLite, whose writers queue anyway, it is
// the two statements in a transaction.
func (u *Usages) Issue(ctx context.Context, uploads []*ent.Upload, d ent.Usage, maxPending, quota int64) (bool, error) {
	if len(uploads) == 0 {
		return false, errors.New("database: Issue without uploads")
	}
	args := make([]any, 0, len(uploads)*len(upload.Columns)+5)
	for _, up := range uploads {
		var err error
		if args, err = uploadValues(args, up); err != nil {
			return false, err
		}
	}
	if !u.postgres {
		return u.issueInTx(ctx, len(uploads), args, d, maxPending, quota)
	}
	st := u.issueStatement(len(uploads), maxPending, quota)
	args = append(args, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes)
	var res stdsql.Result
	err := u.drv.Exec(ctx, st, args, &res)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23502" && pqErr.Table == "usages" && pqErr.Column == "pending_count" {
		return false, nil // the reservation did not fit
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

func (u *Usages) issueInTx(ctx context.Context, n int, args []any, d ent.Usage, maxPending, quota int64) (ok bool, err error) {
	tx, err := u.client.Tx(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !ok {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, insertUploads(dialect.SQLite, n), args...); err != nil {
		return false, err
	}
	if ok, err = u.Reserve(ctx, tx, d, maxPending, quota); err != nil || !ok {
		return false, err
	}
	return true, tx.Commit()
}

// uploadValues appends up's columns (upload.Columns, in order) to args,
// after setting on up ent's defaults for the fields it leaves zero that
// have one (id, created_at, collection, metadata) and running ent's checks
// of each field, so a row is written or refused as ent's builders would.
// A column added to the schema that this does not know fails every issue,
// and so the tests.
func uploadValues(args []any, up *ent.Upload) ([]any, error) {
	if up.ID == (uuid.UUID{}) {
		up.ID = upload.DefaultID()
	}
	if up.CreatedAt.IsZero() {
		up.CreatedAt = upload.DefaultCreatedAt()
	}
	if up.Collection == "" {
		up.Collection = upload.DefaultCollection
	}
	if up.Metadata == nil {
		up.Metadata = schema.Metadata{}
	}
	if err := invalid("Upload",
		fieldCheck{upload.FieldFileName, upload.FileNameValidator(up.FileName)},
		fieldCheck{upload.FieldOriginalName, upload.OriginalNameValidator(up.OriginalName)},
		fieldCheck{upload.FieldSize, upload.SizeValidator(up.Size)},
		fieldCheck{upload.FieldContentType, upload.ContentTypeValidator(up.ContentType)},
		fieldCheck{upload.FieldOwner, upload.OwnerValidator(up.Owner)},
		fieldCheck{upload.FieldCollection, upload.CollectionValidator(up.Collection)},
		fieldCheck{upload.FieldPartSize, upload.PartSizeValidator(up.PartSize)},
		fieldCheck{upload.FieldPartCount, upload.PartCountValidator(up.PartCount)},
	); err != nil {
		return nil, err
	}
	for _, col := range upload.Columns {
		switch col {
		case upload.FieldID:
			args = append(args, up.ID)
		case upload.FieldFileName:
			args = append(args, up.FileName)
		case upload.FieldOriginalName:
			args = append(args, up.OriginalName)
		case upload.FieldSize:
			args = append(args, up.Size)
		case upload.FieldContentType:
			args = append(args, up.ContentType)
		case upload.FieldChecksumSha256:
			args = append(args, up.ChecksumSha256)
		case upload.FieldFolder:
			args = append(args, up.Folder)
		case upload.FieldMetadata:
			args = append(args, up.Metadata)
		case upload.FieldExpiresAt:
			args = append(args, up.ExpiresAt)
		case upload.FieldCreatedAt:
			args = append(args, up.CreatedAt)
		case upload.FieldOwner:
			args = append(args, up.Owner)
		case upload.FieldCollection:
			args = append(args, up.Collection)
		case upload.FieldMultipartID:
			args = append(args, up.MultipartID)
		case upload.FieldPartSize:
			args = append(args, up.PartSize)
		case upload.FieldPartCount:
			args = append(args, up.PartCount)
		case upload.FieldPartChecksums:
			args = append(args, up.PartChecksums)
		default:
			return nil, fmt.Errorf("database: Issue does not write uploads.%s", col)
		}
	}
	return args, nil
}

// fieldCheck is one of ent's validators run on a field's value.
type fieldCheck struct {
	field string
	err   error
}

// invalid returns the first failed check of an entity's fields, worded
// as ent's builders word it.
func invalid(entity string, checks ...fieldCheck) error {
	for _, c := range checks {
		if c.err != nil {
			return fmt.Errorf("ent: validator failed for field %q: %w", entity+"."+c.field, c.err)
		}
	}
	return nil
}

// insertUploads is the INSERT of n uploads' rows, all their columns, in
// the dialect's placeholders.
func insertUploads(name string, n int) string {
	ins := entsql.Dialect(name).Insert(upload.Table).Columns(upload.Columns...)
	row := make([]any, len(upload.Columns))
	for i := range row {
		row[i] = 0 // any value but nil, which the builder writes as NULL
	}
	for range n {
		ins.Values(row...)
	}
	query, _ := ins.Query()
	return query
}

// issueStatement is Issue's statement on PostgreSQL for n uploads, written
// once for each n under one pair of bounds (a server's are fixed).
func (u *Usages) issueStatement(n int, maxPending, quota int64) string {
	key := issueKey{n, maxPending, quota}
	if st, ok := u.issues.Load(key); ok {
		return st.(string)
	}
	st := "WITH inserted AS (" + insertUploads(dialect.Postgres, n) + ")\n" + issueQuery(maxPending, quota, n*len(upload.Columns))
	if n <= maxIssueStatements {
		u.issues.Store(key, st)
	}
	return st
}

// issueKey names one of Issue's statements.
type issueKey struct {
	n                 int
	maxPending, quota int64
}

// maxIssueStatements bounds the statements Issue keeps: one for each
// number of uploads a call may carry, up to this many.
const maxIssueStatements = 100

// issueQuery is the reservation for Issue, its parameters numbered from
// after the insert's n.
func issueQuery(maxPending, quota int64, n int) string {
	var conds []string
	if maxPending > 0 {
		conds = append(conds, fmt.Sprintf("usages.pending_count + excluded.pending_count <= %d", maxPending))
	}
	if quota > 0 {
		conds = append(conds, fmt.Sprintf("usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= %d", quota))
	}
	count := "usages.pending_count + excluded.pending_count"
	if len(conds) > 0 {
		count = "CASE WHEN " + strings.Join(conds, " AND ") + " THEN " + count + " END"
	}
	return fmt.Sprintf(`INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes)
	VALUES ($%d, $%d, $%d, $%d, $%d)
	ON CONFLICT (owner) DO UPDATE SET
		pending_count = %s,
		pending_bytes = usages.pending_bytes + excluded.pending_bytes,
		saved_count = usages.saved_count + excluded.saved_count,
		saved_bytes = usages.saved_bytes + excluded.saved_bytes`, n+1, n+2, n+3, n+4, n+5, count)
}
