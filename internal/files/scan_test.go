package files_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/internal/clamd"
	"github.com/filegraph/filegraph/internal/files"
)

// TestScanTurnedOff: files saved while scanning was on, whose scans no
// process will run once it is off, are ended by the sweeper as UNSCANNED
// (with their file.scanned event) instead of being held for ever.
func TestScanTurnedOff(t *testing.T) {
	f := newFixture(t, files.Limits{})
	// Never reached: this service saves, and runs no jobs.
	unreachable, err := clamd.New("unix:/nonexistent/clamd.sock")
	if err != nil {
		t.Fatal(err)
	}
	opts := files.Options{
		UploadURLTTL: urlTTL, DownloadURLTTL: urlTTL, MaxUploadSize: 1 << 20, SaveWindow: saveWindow,
		DeleteGrace: time.Minute, ClockSkew: time.Minute, Now: f.clock,
		Limits: files.Limits{MaxPendingUploads: 10}, Jobs: f.db.Jobs(),
	}
	on := opts
	on.Scanner = unreachable
	scanning := files.New(f.db.Ent, f.db.Usages, f.store, on, slog.New(slog.DiscardHandler))
	u, err := scanning.CreateUploadURLs(as("ann"), []*files.UploadRequest{{OriginalName: "a.txt", Size: 3}})
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, u[0], []byte("abc"))
	saved, err := scanning.Save(as("ann"), []*files.SaveRequest{save("a.txt", u[0])})
	if err != nil || saved[0].Status != file.StatusSCANNING {
		t.Fatalf("saved %+v, %v; want SCANNING", saved, err)
	}
	if _, err := scanning.DownloadURL(as("ann"), saved[0].ID, nil); err == nil {
		t.Fatal("a SCANNING file was served")
	}

	off := files.New(f.db.Ent, f.db.Usages, f.store, opts, slog.New(slog.DiscardHandler))
	if _, err := off.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.db.Ent.File.GetX(context.Background(), saved[0].ID)
	if got.Status != file.StatusUNSCANNED {
		t.Errorf("after the sweep: %s, want UNSCANNED", got.Status)
	}
	if n := f.db.Ent.Job.Query().CountX(context.Background()); n != 0 {
		t.Errorf("%d jobs left", n)
	}
	if n := f.db.Ent.Event.Query().CountX(context.Background()); n != 2 { // file.saved, file.scanned
		t.Errorf("%d events, want file.saved and file.scanned", n)
	}
}
