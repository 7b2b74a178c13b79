package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size on a fresh folder for the test and
// unmounts it afterwards. It needs root (CI runs as root); without it the
// test fails rather than skip, so a run that did not test a full disk
// cannot pass.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0750"); err != nil {
		t.Fatalf("mounting a %s tmpfs for the full-disk test: %v (it needs root, as CI has; it does not skip)", size, err)
	}
	// Lazily: the server under test may still hold files open in it.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the file system has no space left, and
// returns a function that removes it.
func fill(t *testing.T, dir string) func() {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last blocks: a smaller write may still fit.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiskFull: SQLite and disk storage on a small tmpfs that fills up.
// Readiness says storage is short of space; a PUT gets 507 with a generic
// message and leaves no partial file; new upload URLs and SQLite writes are
// UNAVAILABLE, never INTERNAL; reads keep working. Once space is freed
// everything works again and storage and database agree.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "16m")
	e := newEnv(t, "sqlite+disk", "DATA_DIR", dir, "DISK_MIN_FREE", "2MiB", "SWEEP_INTERVAL", "0")
	if code, body := readyz(t, e); code != http.StatusOK {
		t.Fatalf("readyz before filling: %d %v", code, body)
	}
	e.upload("kept.txt", "text/plain", []byte("kept"))
	// Uploads PUT while there was room, to be saved once there is none.
	var pending []uploadURL
	for i := range 20 {
		u := e.createUploads(map[string]any{"originalName": "p.txt", "size": 100, "contentType": "text/plain"})[0]
		e.put(u, []byte(strings.Repeat(string(rune('a'+i)), 100)))
		pending = append(pending, u)
	}
	big := e.createUploads(map[string]any{"originalName": "big.bin", "size": 4 << 20})[0]

	free := fill(t, dir)

	if body := readyzBecomes(t, e, http.StatusServiceUnavailable); body["storage"] != "unavailable" || !strings.Contains(body["reason"], "DISK_MIN_FREE") || body["database"] != "ok" {
		t.Errorf("readyz on a full disk: %v", body)
	}
	bigBody := make([]byte, 4<<20)
	res := storagetest.Send(t, big.request(), bigBody)
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInsufficientStorage || strings.Contains(string(msg), dir) || strings.Contains(string(msg), "/") {
		t.Errorf("PUT on a full disk: %d %q, want 507 without a server path", res.StatusCode, msg)
	}
	if left := testenv.TmpFiles(t, dir); len(left) > 0 {
		t.Errorf("the refused PUT left %v", left)
	}

	e.clock.advance(time.Minute) // past the last answer from storage vouching for it
	e.fail("UNAVAILABLE", createQ, map[string]any{"files": []map[string]any{{"originalName": "new.txt", "size": 1}}})
	var list connection
	e.do(listQ, nil, &list) // reads need no space
	if list.Files.TotalCount != 1 {
		t.Errorf("listed %d files on a full disk, want 1", list.Files.TotalCount)
	}
	savedWhileFull, refused := 0, 0
	var unsaved []uploadURL
	for _, u := range pending {
		r := e.post(saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "p.txt"}}})
		switch {
		case len(r.Errors) == 0:
			savedWhileFull++
		case r.Errors[0].code() == "UNAVAILABLE":
			refused++
			unsaved = append(unsaved, u)
		default:
			t.Fatalf("saveFiles on a full disk: %+v, want success or UNAVAILABLE", r.Errors)
		}
	}
	t.Logf("on the full disk: %d saves went through, %d were UNAVAILABLE", savedWhileFull, refused)
	if refused == 0 {
		t.Error("no SQLite write met the full disk")
	}

	free()
	readyzBecomes(t, e, http.StatusOK)
	e.put(big, bigBody)
	for _, u := range unsaved {
		e.do(saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "p.txt"}}}, nil)
	}
	e.createUploads(map[string]any{"originalName": "new.txt", "size": 1})
	r, err := e.srv.Files.Reconcile(auth.WithUser(context.Background(), auth.LocalUser), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Orphans) != 0 || len(r.Missing) != 0 || r.Files != 1+len(pending) {
		t.Errorf("after freeing space: %d files (want %d), orphans %v, missing %v", r.Files, 1+len(pending), r.Orphans, r.Missing)
	}
}
