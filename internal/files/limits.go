package files

import (
	"context"
	"fmt"

	entgo "entgo.io/ent"

	"github.com/filegraph/filegraph/ent"
)

// Each user's usage row (ent/schema/usage.go) holds their pending and saved
// counts and bytes. Every transaction that adds or removes an upload or a
// file changes the row in the same transaction, so it is exact, and limits
// are checked by one conditional update of it instead of counting rows:
// the cost does not grow with what the user holds, and the row lock is held
// only from that update to the commit.

// Usages changes users' usage rows in the caller's transaction;
// internal/database implements it, one statement each.
type Usages interface {
	// Add adds d's counts and bytes to the row of user d.ID, creating it
	// at need, whatever the totals come to.
	Add(ctx context.Context, tx *ent.Tx, d ent.Usage) error
	// Reserve adds d as Add does if the row then holds at most maxPending
	// pending uploads and at most quota bytes saved and pending together
	// (0: no bound), and reports whether it did. A row it creates is not
	// checked.
	Reserve(ctx context.Context, tx *ent.Tx, d ent.Usage, maxPending, quota int64) (bool, error)
	// Issue writes the uploads' rows, with the defaults and checks of
	// ent's builders, and reserves d as Reserve does, all or nothing
	// (nothing is written when d does not fit), as one statement where
	// the database allows.
	Issue(ctx context.Context, uploads []*ent.Upload, d ent.Usage, maxPending, quota int64) (bool, error)
	// AddFolders adds each delta to its folder's count (folders.go),
	// creating rows at need; ds is sorted, one delta a folder.
	AddFolders(ctx context.Context, tx *ent.Tx, ds []FolderDelta) error
}

// addUsage applies d to its owner's usage row in tx, unconditionally: for
// what leaves (saves, sweeps, deletes), which no limit holds back.
func (s *Service) addUsage(ctx context.Context, tx *ent.Tx, d ent.Usage) error {
	if err := s.usages.Add(ctx, tx, d); err != nil {
		return dbError("updating usage", err)
	}
	return nil
}

// reserveUsage writes what insert writes (the uploads' rows) and adds
// count pending uploads of bytes in all to owner's usage, if they fit
// under the limits (MAX_PENDING_UPLOADS, USER_QUOTA_BYTES); otherwise it
// writes nothing and returns a *LimitError. The row is locked only for the
// statement that changes it and the commit. An upload counts by its full
// size from the moment it is issued (a multipart upload too, not part by
// part).
func (s *Service) reserveUsage(ctx context.Context, uploads []*ent.Upload, owner string, count int, bytes int64) error {
	lim := s.cfg.Limits
	if lim.MaxPendingUploads > 0 && int64(count) > int64(lim.MaxPendingUploads) ||
		lim.UserQuotaBytes > 0 && bytes > lim.UserQuotaBytes {
		// Over the limit on its own: a row the reservation creates is not
		// checked.
		return s.limitError(ctx, owner, count, bytes)
	}
	ok, err := s.usages.Issue(ctx, uploads, ent.Usage{ID: owner, PendingCount: int64(count), PendingBytes: bytes}, int64(lim.MaxPendingUploads), lim.UserQuotaBytes)
	if err != nil {
		return dbError("recording uploads", err)
	}
	if !ok { // the row is there and the update's condition refused it
		return s.limitError(ctx, owner, count, bytes)
	}
	return nil
}

// limitError says which limit count more uploads of bytes would break.
func (s *Service) limitError(ctx context.Context, owner string, count int, asked int64) error {
	used, err := s.db.Usage.Get(ctx, owner)
	switch {
	case ent.IsNotFound(err):
		used = &ent.Usage{}
	case err != nil:
		return dbError("reading usage", err)
	}
	lim := s.cfg.Limits
	if after := used.PendingCount + int64(count); lim.MaxPendingUploads > 0 && after > int64(lim.MaxPendingUploads) {
		return &LimitError{Limit: "MAX_PENDING_UPLOADS", Message: fmt.Sprintf(
			"%d more uploads would make %d pending, %d over the limit of %d; save or wait for pending uploads to expire",
			count, after, after-int64(lim.MaxPendingUploads), lim.MaxPendingUploads)}
	}
	held := used.SavedBytes + used.PendingBytes
	return &LimitError{Limit: "USER_QUOTA_BYTES", Message: fmt.Sprintf(
		"%d more bytes would be %d bytes over your quota of %d (%d saved, %d pending)",
		asked, held+asked-lim.UserQuotaBytes, lim.UserQuotaBytes, used.SavedBytes, used.PendingBytes)}
}

// savedCount is the number of owner's files, less those being deleted,
// read from their usage row.
func (s *Service) savedCount(ctx context.Context, owner string) (int, error) {
	used, err := s.db.Usage.Get(ctx, owner)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, dbError("reading usage", err)
	}
	return int(used.SavedCount), nil
}

// savedCounter is savedCount as a listing's counter.
func (s *Service) savedCounter(owner string) counter {
	return func(ctx context.Context, _ func(context.Context) (int, error)) (int, error) {
		return s.savedCount(ctx, owner)
	}
}

// countKey carries, into a listing's context, how to count its files
// (a counter); see countFromUsage.
type countKey struct{}

// countFromUsage answers the file count of a listing that List gave a
// counter with that counter: all of one user's files from the user's usage
// row, so that totalCount costs the same at a thousand files as at a
// million, and some filtered listings from other rows or kept counts
// (countFiltered).
func countFromUsage(next ent.Querier) ent.Querier {
	return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
		if count, ok := ctx.Value(countKey{}).(counter); ok {
			if qc := entgo.QueryFromContext(ctx); qc != nil && qc.Op == entgo.OpQueryCount {
				return count(ctx, func(ctx context.Context) (int, error) {
					// Without the counter: another service's interceptor
					// on the same client (tests make such) counts rows.
					v, err := next.Query(context.WithValue(ctx, countKey{}, nil), q)
					if err != nil {
						return 0, err
					}
					n, ok := v.(int)
					if !ok {
						return 0, fmt.Errorf("files: a count query returned %T", v)
					}
					return n, nil
				})
			}
		}
		return next.Query(ctx, q)
	})
}

// inTx runs fn in a transaction and commits if it returns nil.
func (s *Service) inTx(ctx context.Context, what string, fn func(*ent.Tx) error) (err error) {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return dbError("starting transaction", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError("committing "+what, err)
	}
	return nil
}
