package diskstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// staleLoose is how old an entry directly in tmp/ (as versions before
// these folders left them) must be before it is taken for a leftover.
const staleLoose = time.Hour

// openTmp makes and locks this store's temporary folder.
func (s *Store) openTmp() error {
	for range 10 {
		dir, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), procPrefix+"*")
		if err != nil {
			return err
		}
		f, err := os.Open(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // another process's cleaner took it already: make another
		}
		if err != nil {
			return err
		}
		if err := lockOwn(f); err != nil {
			f.Close()
			return fmt.Errorf("locking %s: %w", filepath.Base(dir), err)
		}
		// Another process's cleaner may have taken the folder for a
		// leftover between its making and its locking: then start again.
		if fi, err := os.Stat(dir); err == nil {
			if own, err := f.Stat(); err == nil && os.SameFile(fi, own) {
				s.tmp, s.tmpLock = dir, f
				return nil
			}
		}
		f.Close()
	}
	return errors.New("could not keep a temporary folder")
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
