package diskstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A store's temporary folder is its own while it lives: another store on
// the same root leaves it alone, and removes folders no live store holds
// and loose files old enough to be leftovers.
func TestCleanStale(t *testing.T) {
	root := t.TempDir()
	key := []byte(strings.Repeat("k", 32))
	live, err := New(root, "http://127.0.0.1/storage/", key)
	if err != nil {
		t.Fatal(err)
	}
	livePart := filepath.Join(live.tmpDir(), "put-live")
	dead := filepath.Join(root, "tmp", procPrefix+"dead")
	oldLoose := filepath.Join(root, "tmp", "put-old")
	newLoose := filepath.Join(root, "tmp", "put-new")
	for _, p := range []string{livePart, filepath.Join(dead, "put-1"), oldLoose, newLoose} {
		os.MkdirAll(filepath.Dir(p), 0o750)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * staleLoose)
	os.Chtimes(oldLoose, long, long)

	other, err := New(root, "http://127.0.0.1/storage/", key) // cleans as it opens
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{livePart: true, dead: false, oldLoose: false, newLoose: true} {
		if got := exists(t, p); got != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), got, want)
		}
	}
	if n, err := other.CleanStale(context.Background()); err != nil || n != 0 {
		t.Errorf("a second clean removed %d (%v), want 0", n, err)
	}
	// Once its owner is gone (here: its lock released), the folder goes too.
	live.tmpLock.Close()
	if n, err := other.CleanStale(context.Background()); err != nil || n != 1 {
		t.Errorf("cleaning after the owner went: removed %d (%v), want 1", n, err)
	}
	if exists(t, livePart) {
		t.Error("the folder of a store that is gone is still there")
	}
}

// A store opening while another's cleaner runs keeps its folder: the
// cleaner once took a folder between its making and its locking, and a
// store opening beside a cleaner in a loop failed to start (first
// "locking proc-...: resource temporarily unavailable", then, retrying,
// ten folders in a row taken). Staging the folder under a name cleaners
// leave alone until it is locked takes the race away.
func TestOpenBesideACleaner(t *testing.T) {
	root := t.TempDir()
	key := []byte(strings.Repeat("k", 32))
	live, err := New(root, "http://127.0.0.1/storage/", key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			live.CleanStale(ctx)
		}
	}()
	defer func() { cancel(); <-done }()
	for i := range 300 {
		s, err := New(root, "http://127.0.0.1/storage/", key)
		if err != nil {
			t.Fatalf("open %d beside a cleaner: %v", i, err)
		}
		s.tmpLock.Close()
	}
}
