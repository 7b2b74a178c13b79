package files

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/storage"
)

// refusal is why an upload cannot be saved yet; the save refuses it as bad
// input, and the upload stays as it was.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// completeParts is save's look at an upload in parts: it lists the parts
// in the store, checks that 1..partCount are all there with their exact
// sizes (and checksums), completes the object and returns it for the same
// checks a single PUT gets. An upload already completed (a save cut short
// after completing, or a concurrent save) is simply looked at again, so a
// retry finishes what a crash interrupted.
func (s *Service) completeParts(ctx context.Context, u *ent.Upload) (storage.Object, error) {
	// One completion of an upload at a time: concurrent saves of it wait,
	// then find it completed and look at the object, rather than each
	// assembling the whole object (8 saves of a 320 MiB upload on disk
	// wrote 2.3 GiB) and tripping over each other's cleanup.
	unlock, err := s.completing.lock(ctx, u.FileName)
	if err != nil {
		return storage.Object{}, fmt.Errorf("waiting for a concurrent save: %w: %w", storage.ErrUnavailable, err)
	}
	defer unlock()
	listed, err := s.store.ListParts(ctx, u.FileName, u.MultipartID)
	if errors.Is(err, storage.ErrNotExist) {
		return s.completedObject(ctx, u)
	}
	if err != nil {
		return storage.Object{}, err
	}
	byNumber := make(map[int]storage.Part, len(listed))
	for _, p := range listed {
		byNumber[p.Number] = p
	}
	var missing, wrong []string
	parts := make([]storage.Part, 0, u.PartCount)
	for n := 1; n <= u.PartCount; n++ {
		p, ok := byNumber[n]
		switch {
		case !ok:
			missing = append(missing, strconv.Itoa(n))
		case p.Size != partSizeOf(u, n):
			wrong = append(wrong, fmt.Sprintf("%d (%d bytes, %d expected)", n, p.Size, partSizeOf(u, n)))
		case u.PartChecksums && p.ChecksumSHA256 == "":
			wrong = append(wrong, fmt.Sprintf("%d (no checksum)", n))
		}
		parts = append(parts, p)
	}
	switch {
	case len(missing) > 0:
		return storage.Object{}, &refusal{fmt.Sprintf("is missing part%s %s of %d; upload %s and save again",
			plural(len(missing)), listUpTo(missing, 20), u.PartCount, map[bool]string{true: "them", false: "it"}[len(missing) > 1])}
	case len(wrong) > 0:
		return storage.Object{}, &refusal{fmt.Sprintf("has parts that do not match the upload: %s; upload those again and save", listUpTo(wrong, 20))}
	}
	err = s.store.CompleteMultipart(ctx, u.FileName, u.MultipartID, parts)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return s.completedObject(ctx, u) // a concurrent save completed it
	case errors.Is(err, storage.ErrInvalidPart):
		return storage.Object{}, &refusal{"had a part replaced while saving; save again"}
	case err != nil:
		return storage.Object{}, err
	}
	s.log.InfoContext(ctx, "files.multipart_completed", "key", u.FileName, "parts", u.PartCount)
	return s.store.Stat(ctx, u.FileName)
}

// completedObject is the object of an upload in parts the store no longer
// has in progress: completed, or, if no object is there, gone.
func (s *Service) completedObject(ctx context.Context, u *ent.Upload) (storage.Object, error) {
	obj, err := s.store.Stat(ctx, u.FileName)
	if errors.Is(err, storage.ErrNotExist) {
		return obj, &refusal{"is no longer in storage; abort it and upload again"}
	}
	return obj, err
}

// keyLock lets one caller at a time hold a key; the others wait for it,
// or give up when their context ends. The zero value is ready.
type keyLock struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

func (l *keyLock) lock(ctx context.Context, key string) (unlock func(), _ error) {
	for {
		l.mu.Lock()
		released, busy := l.held[key]
		if !busy {
			if l.held == nil {
				l.held = map[string]chan struct{}{}
			}
			mine := make(chan struct{})
			l.held[key] = mine
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, key)
				l.mu.Unlock()
				close(mine)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-released:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// listUpTo joins the first n items, saying how many more there are.
func listUpTo(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
