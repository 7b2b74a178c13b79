package diskstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/filegraph/filegraph/internal/httplog"
	"github.com/filegraph/filegraph/internal/storage"
)

// Temporary files (uploads in progress, sidecars being written, parts
// being assembled) live in a folder of this store's own under tmp/, which
// it keeps locked (flock) for as long as the process lives. A process that
// dies, even by kill -9, releases its lock, so a folder whose lock can be
// taken holds only leftovers: CleanStale removes those, when a store opens
// and every SWEEP_INTERVAL, and never touches a live process's files.
const procPrefix = "proc-"

// stagingPrefix names a temporary folder between its making and its
// locking; cleaners treat it as a loose entry (removed after staleLoose).
const stagingPrefix = "new-"

// staleLoose is how old an entry directly in tmp/ (as versions before
// these folders left them) must be before it is taken for a leftover.
const staleLoose = time.Hour

// openTmp makes and locks this store's temporary folder. It is made under
// a name no cleaner takes for a leftover (stagingPrefix), locked, and only
// then renamed to its proc- name: a folder the cleaners look at is never
// unlocked while its process lives, so a store opening beside another's
// cleaner cannot lose its folder between making and locking it. A process
// killed before the rename leaves a staging folder, removed once it is as
// old as any loose leftover.
func (s *Store) openTmp() error {
	root := filepath.Join(s.root, "tmp")
	for range 10 {
		staging, err := os.MkdirTemp(root, stagingPrefix+"*")
		if err != nil {
			return err
		}
		f, err := os.Open(staging)
		if err != nil {
			return err
		}
		if err := lockOwn(f); err != nil {
			f.Close()
			return fmt.Errorf("locking %s: %w", filepath.Base(staging), err)
		}
		dir := filepath.Join(root, procPrefix+strings.TrimPrefix(filepath.Base(staging), stagingPrefix))
		if err := os.Rename(staging, dir); err != nil {
			f.Close()
			os.Remove(staging)
			continue // the name is another's (a leftover not yet cleaned): make another
		}
		s.tmp, s.tmpLock = dir, f
		return nil
	}
	return errors.New("diskstore: could not make a temporary folder")
}

// tmpDir is where this store writes files before renaming them into place.
func (s *Store) tmpDir() string { return s.tmp }

// CleanStale implements storage.StaleCleaner: it removes what processes
// that are gone left in tmp/, and returns how many folders and files it
// removed.
func (s *Store) CleanStale(ctx context.Context) (int, error) {
	root := filepath.Join(s.root, "tmp")
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("diskstore: cleaning tmp: %w: %w", storage.ErrUnavailable, err)
	}
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		path := filepath.Join(root, e.Name())
		if path == s.tmp {
			continue
		}
		if e.IsDir() && strings.HasPrefix(e.Name(), procPrefix) {
			f, err := os.Open(path)
			if err != nil {
				continue
			}
			// Removed while held, so its owner cannot be a live process.
			if locked, _ := tryLock(f); locked && os.RemoveAll(path) == nil {
				removed++
			}
			f.Close()
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleLoose && os.RemoveAll(path) == nil {
			removed++
		}
	}
	return removed, nil
}

// outOfSpace reports whether err is the file system refusing more bytes.
func outOfSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// storeFailed answers a transfer the server could not store: 507 when the
// disk is full (the client may retry later or elsewhere), else 500; the
// details, paths included, go to the log only.
func storeFailed(w http.ResponseWriter, r *http.Request, event string, err error, args ...any) {
	log := httplog.FromContext(r.Context())
	if exhausted(err) {
		busy(w, r, err, args...)
		return
	}
	if outOfSpace(err) {
		log.WarnContext(r.Context(), "diskstore.disk_full", append(args, "err", err)...)
		http.Error(w, "not enough storage space; try again later", http.StatusInsufficientStorage)
		return
	}
	log.ErrorContext(r.Context(), event, append(args, "err", err)...)
	http.Error(w, "could not store the object", http.StatusInternalServerError)
}
