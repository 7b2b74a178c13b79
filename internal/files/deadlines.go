package files

import (
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/predicate"
	"github.com/filegraph/filegraph/ent/upload"
)

// When an upload may still be saved, and when a PUT may still land: the
// save, the gate, the listing of pending uploads, the abort and the sweeper
// all ask these, so that they agree.

// saveDeadline is when u must be saved by: for an upload in parts its
// expiry, for a single PUT the URL's expiry plus the save window.
func (s *Service) saveDeadline(u *ent.Upload) time.Time {
	if inParts(u) {
		return u.ExpiresAt
	}
	return u.ExpiresAt.Add(s.cfg.SaveWindow)
}

// saveable reports whether an upload may still be saved; past that the
// sweeper may be removing it.
func (s *Service) saveable(u *ent.Upload) bool {
	return s.saveDeadline(u).After(s.cfg.Now())
}

// whereSaveableAt selects the uploads that may still be saved at t.
func (s *Service) whereSaveableAt(t time.Time) predicate.Upload {
	return upload.Or(
		upload.And(upload.MultipartID(""), upload.ExpiresAtGT(t.Add(-s.cfg.SaveWindow))),
		upload.And(upload.MultipartIDNEQ(""), upload.ExpiresAtGT(t)),
	)
}

// whereExpiredAt selects the uploads that may no longer be saved at t; written
// out rather than as whereSaveableAt's negation, so the expires_at index serves.
func (s *Service) whereExpiredAt(t time.Time) predicate.Upload {
	return upload.Or(
		upload.And(upload.MultipartID(""), upload.ExpiresAtLT(t.Add(-s.cfg.SaveWindow))),
		upload.And(upload.MultipartIDNEQ(""), upload.ExpiresAtLT(t)),
	)
}

// latePutWindow is how long after its URL expired a PUT may still land: a
// store checks the expiry when a request starts, not when its body ends.
// Disk storage cuts a PUT off then (the gate's deadline); the sweeper
// waits as long before it takes an upload.
func (s *Service) latePutWindow() time.Duration { return s.cfg.SaveWindow + s.cfg.ClockSkew }

// keyWritableUntil is when no upload URL for f's key can write any more: its URL
// expired at the latest UploadURLTTL after the file was saved.
func (s *Service) keyWritableUntil(f *ent.File) time.Time {
	return f.CreatedAt.Add(s.cfg.UploadURLTTL + s.latePutWindow())
}
