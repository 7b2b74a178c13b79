package files

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/auth"
)

// checkLimits refuses uploads that would take the user over their quota or
// their cap on pending uploads. It runs in the transaction that records
// the uploads, after taking the user's lock.
func (s *Service) checkLimits(ctx context.Context, tx *ent.Tx, user auth.User, reqs []UploadRequest) error {
	lim := s.cfg.Limits
	if lim.UserQuotaBytes == 0 && lim.MaxPendingUploads == 0 {
		return nil
	}
	if s.cfg.Dialect == dialect.Postgres {
		// SQLite transactions here begin IMMEDIATE and so run one at a time;
		// PostgreSQL needs the user's lock taken explicitly.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", user.ID); err != nil {
			return dbError("locking user", err)
		}
	}
	var saved, pendingBytes, pendingCount int64
	since := s.cfg.Now().Add(-s.cfg.SaveWindow)
	// Summing a user's saved files reads each of their rows, so it is only
	// done when there is a quota to hold.
	savedSum := "0"
	if lim.UserQuotaBytes > 0 {
		savedSum = "(SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = $1)"
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+savedSum+`,
		COALESCE(SUM(size), 0), COUNT(*) FROM uploads WHERE owner = $1 AND expires_at > $2`, user.ID, since)
	if err != nil {
		return dbError("reading usage", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&saved, &pendingBytes, &pendingCount)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return dbError("reading usage", err)
	}

	if lim.MaxPendingUploads > 0 && pendingCount+int64(len(reqs)) > int64(lim.MaxPendingUploads) {
		return &LimitError{Limit: "MAX_PENDING_UPLOADS", Message: fmt.Sprintf(
			"%d more uploads would make %d pending, %d over the limit of %d; save or wait for pending uploads to expire",
			len(reqs), pendingCount+int64(len(reqs)), pendingCount+int64(len(reqs))-int64(lim.MaxPendingUploads), lim.MaxPendingUploads)}
	}
	if lim.UserQuotaBytes > 0 {
		var asked int64
		for _, r := range reqs {
			asked += r.Size
		}
		if used := saved + pendingBytes; used+asked > lim.UserQuotaBytes {
			return &LimitError{Limit: "USER_QUOTA_BYTES", Message: fmt.Sprintf(
				"%d more bytes would be %d bytes over your quota of %d (%d saved, %d pending)",
				asked, used+asked-lim.UserQuotaBytes, lim.UserQuotaBytes, saved, pendingBytes)}
		}
	}
	return nil
}
