package files

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/internal/storage"
)

// The scan gate: with a Scanner, a saved file is SCANNING, and served to
// nobody, until the scanner has read its object; then READY, or INFECTED:
// its object is deleted at once and its bytes leave the owner's quota, but
// the row stays (with the signature's name) so the app can tell the user.
// A file larger than ScanMaxSize is UNSCANNED, served only where
// ServeUnscanned says so.
//
// A public file held for the scan (heldPrefix) gets its public key as it
// goes READY: f.FileName is always where its object is, and work that runs
// once a file is READY (image variants) reads it there. What such work
// makes of a public file may go under the public prefix only from then on.

// EventScanned is written when a file's scan ends (READY or INFECTED).
const EventScanned = "file.scanned"

// Scanner reads a stream to its end and names the malware it found in it,
// or returns "" for a clean one; internal/clamd implements it. An error
// means it could not tell (down, timed out): the scan is tried again.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (found string, err error)
}

// ErrScannerUnavailable marks a scan the scanner did not answer (down,
// timed out, or refused the stream): the file stays SCANNING, and the scan
// is tried again.
var ErrScannerUnavailable = errors.New("virus scanner unavailable")

// savedStatus is the status a file of size gets as it is saved.
func (s *Service) savedStatus(size int64) file.Status {
	switch {
	case s.cfg.Scanner == nil:
		return file.StatusREADY
	case s.cfg.ScanMaxSize > 0 && size > s.cfg.ScanMaxSize:
		return file.StatusUNSCANNED
	}
	return file.StatusSCANNING
}

// servable says whether f's bytes may be handed out (a download, its
// public URL), or why not.
func (s *Service) servable(f *ent.File) error {
	switch f.Status {
	case file.StatusREADY:
		return nil
	case file.StatusUNSCANNED:
		if s.cfg.ServeUnscanned {
			return nil
		}
	case file.StatusINFECTED:
		return &NotServableError{Status: string(f.Status), Infected: true}
	}
	return &NotServableError{Status: string(f.Status)}
}

// ownsObject says whether f's object is still in storage: an INFECTED
// file's was deleted.
func ownsObject(f *ent.File) bool { return f.Status != file.StatusINFECTED }

// savedBytes is what f counts against its owner's quota.
func savedBytes(f *ent.File) int64 {
	if !ownsObject(f) {
		return 0
	}
	return f.Size
}

// scan runs a scan job: it streams the file's object to the scanner and
// records the verdict. A held file (heldPrefix) found clean is copied to
// its public key before the verdict is recorded, and its held object is
// deleted after: a run killed in between leaves both objects, which the
// row names (twinKey), and the job, which the next run finishes (settle).
func (s *Service) scan(ctx context.Context, j *ent.Job) error {
	f, err := s.db.File.Query().Where(file.ID(j.FileID), file.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return s.finishJob(ctx, j) // deleted meanwhile (its delete removes its jobs too)
	}
	if err != nil {
		return dbError("reading file", err)
	}
	if f.Status != file.StatusSCANNING {
		// Recorded by an earlier run, which died before it let go of
		// what the file no longer owns.
		if err := s.settle(ctx, f); err != nil {
			return err
		}
		return s.finishJob(ctx, j)
	}
	if s.cfg.Scanner == nil {
		// Scanning was turned off since the save: nothing will scan it.
		s.log.WarnContext(ctx, "scan.off", "file", f.ID)
		return s.recordScan(ctx, j, f, file.StatusUNSCANNED, "")
	}
	r, err := s.store.Open(ctx, f.FileName)
	if err != nil {
		return storageError("opening object", err)
	}
	defer r.Close()
	s.log.DebugContext(ctx, "scan.started", "file", f.ID)
	found, err := s.cfg.Scanner.Scan(ctx, r)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrScannerUnavailable, err)
	}
	if found != "" {
		return s.recordScan(ctx, j, f, file.StatusINFECTED, found)
	}
	if isHeld(f.FileName) {
		if s.cfg.Copier == nil {
			// Held by a replica whose store copies; this one cannot
			// publish it. Another run (or this one, configured alike) will.
			return fmt.Errorf("%w: %s is held for the scan, and this store cannot copy it to its public key", storage.ErrMisconfigured, f.FileName)
		}
		if err := s.cfg.Copier.Copy(ctx, f.FileName, twinKey(f.FileName)); err != nil {
			return storageError("publishing clean object", err)
		}
	}
	return s.recordScan(ctx, j, f, file.StatusREADY, "")
}

// recordScan sets f's status (and signature, and for a held file found
// clean its public key) and writes file.scanned, in one transaction; then
// lets go of what f no longer owns and ends the job. The job outlives the
// record until then, so a run killed in between is finished by the next.
// A file deleted meanwhile is left be, but for a public copy this run may
// have made after its delete had removed its objects.
func (s *Service) recordScan(ctx context.Context, j *ent.Job, f *ent.File, status file.Status, found string) error {
	var changed *ent.File
	gone := false
	err := s.inTx(ctx, "scan result", func(tx *ent.Tx) error {
		upd := tx.File.Update().
			Where(file.ID(f.ID), file.DeletedAtIsNil(), file.StatusEQ(file.StatusSCANNING)).
			SetStatus(status)
		if found != "" {
			upd.SetScanResult(found)
		}
		key := f.FileName
		if status == file.StatusREADY && isHeld(key) {
			key = twinKey(key)
			upd.SetFileName(key)
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return dbError("recording scan", err)
		}
		if n == 0 {
			gone, err = tx.File.Query().Where(file.ID(f.ID), file.DeletedAtIsNil()).Exist(ctx)
			gone = !gone
			if err != nil {
				return dbError("reading file", err)
			}
			if _, err := tx.Job.Delete().Where(job.ID(j.ID)).Exec(ctx); err != nil {
				return dbError("ending job", err)
			}
			return nil
		}
		if key != f.FileName || status == file.StatusINFECTED {
			// f's upload key loses its object: a replay of its URL,
			// writable a while yet, must not put one back for good.
			if until := s.keyWritableUntil(f); !s.cfg.RevocableURLs && s.cfg.Now().Before(until) {
				if err := tx.Tombstone.Create().SetFileName(f.FileName).SetDeleteAfter(until).Exec(ctx); err != nil {
					return dbError("recording tombstone", err)
				}
			}
		}
		if status == file.StatusINFECTED {
			if err := s.addUsage(ctx, tx, ent.Usage{ID: f.Owner, SavedBytes: -f.Size}); err != nil {
				return err
			}
		}
		c := *f
		changed = &c
		changed.Status = status
		changed.FileName = key
		if found != "" {
			changed.ScanResult = &found
		}
		// Its variants are made once it is clean, from its public key
		// for a held file: they may be public from the start.
		if s.wantsVariants(changed) {
			if err := s.variantsJob(tx, changed).Exec(ctx); err != nil {
				return dbError("writing variants job", err)
			}
		}
		return s.record(ctx, tx, EventScanned, changed)
	})
	if err != nil {
		return err
	}
	if changed == nil {
		s.log.InfoContext(ctx, "scan.discarded", "file", f.ID, "why", "deleted while scanned")
		if gone && status == file.StatusREADY && isHeld(f.FileName) {
			// Its delete may have run before this run's copy landed.
			if err := s.store.Delete(ctx, twinKey(f.FileName)); err != nil {
				s.log.ErrorContext(ctx, "scan.discarded_copy_delete_failed", "file", f.ID, "key", twinKey(f.FileName), "err", err)
			}
		}
		return nil
	}
	s.cfg.Outbox.Committed()
	s.wakeJobs()
	s.log.InfoContext(ctx, "scan.done", "file", f.ID, "status", status, "found", found, "key", changed.FileName)
	s.cfg.Events.FileScanned(string(status))
	if err := s.settle(ctx, changed); err != nil {
		return err // the job stays; its next run settles
	}
	return s.finishJob(ctx, j)
}

// settle deletes the objects a scanned file no longer owns: an INFECTED
// file's, at once, and a released file's held object (or a public copy a
// file that stays held must not have). Deleting a missing object succeeds,
// so it may run any number of times.
func (s *Service) settle(ctx context.Context, f *ent.File) error {
	drop := []string{twinKey(f.FileName)}
	if !ownsObject(f) {
		drop = objectKeys(f.FileName)
	}
	for _, key := range drop {
		if key == "" {
			continue
		}
		if err := s.store.Delete(ctx, key); err != nil {
			s.log.ErrorContext(ctx, "scan.settle_failed", "file", f.ID, "key", key, "err", err)
			return storageError("deleting object", err)
		}
	}
	return nil
}

// finishJob deletes a job that has nothing (left) to do.
func (s *Service) finishJob(ctx context.Context, j *ent.Job) error {
	if _, err := s.db.Job.Delete().Where(job.ID(j.ID)).Exec(ctx); err != nil {
		return dbError("ending job", err)
	}
	return nil
}
