package clamd_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/clamd"
	"github.com/filegraph/filegraph/internal/testenv"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct{ in, network, addr string }{
		{"unix:/run/clamav/clamd.ctl", "unix", "/run/clamav/clamd.ctl"},
		{"tcp://127.0.0.1:3310", "tcp", "127.0.0.1:3310"},
		{"tcp://[::1]:3310", "tcp", "[::1]:3310"},
	} {
		n, a, err := clamd.ParseAddr(tc.in)
		if err != nil || n != tc.network || a != tc.addr {
			t.Errorf("ParseAddr(%q) = %q, %q, %v; want %q, %q", tc.in, n, a, err, tc.network, tc.addr)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:3310", "tcp://host", "unix:", "unix:relative", "http://h:1", "tcp://h:1/x"} {
		if _, _, err := clamd.ParseAddr(bad); err == nil {
			t.Errorf("ParseAddr(%q) accepted", bad)
		}
	}
}

// TestScan runs a real clamd: EICAR is found (in a stream of several
// chunks too), random bytes are clean, and a clamd that is stopped is an
// *clamd.Error, not a verdict.
func TestScan(t *testing.T) {
	d := testenv.StartClamd(t)
	c, err := clamd.New(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, err := c.Scan(ctx, strings.NewReader(testenv.EICAR))
	if err != nil || found != testenv.EICARSignature {
		t.Errorf("Scan(EICAR) = %q, %v; want %q", found, err, testenv.EICARSignature)
	}
	clean := make([]byte, 300_000) // five chunks
	rand.Read(clean)
	if found, err := c.Scan(ctx, bytes.NewReader(clean)); err != nil || found != "" {
		t.Errorf("Scan(random) = %q, %v; want clean", found, err)
	}
	if found, err := c.Scan(ctx, io.LimitReader(zero{}, 0)); err != nil || found != "" {
		t.Errorf("Scan(empty) = %q, %v; want clean", found, err)
	}
	d.Stop()
	var cerr *clamd.Error
	if found, err := c.Scan(ctx, strings.NewReader(testenv.EICAR)); !errors.As(err, &cerr) {
		t.Errorf("Scan with clamd stopped = %q, %v; want a *clamd.Error", found, err)
	}
}

type zero struct{}

func (zero) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestScanBoundedMemory: a 16 MiB stream goes to clamd in chunks; what the
// scan allocates does not grow with the stream (one chunk buffer, plus the
// connection's own).
func TestScanBoundedMemory(t *testing.T) {
	d := testenv.StartClamd(t)
	c, err := clamd.New(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	found, err := c.Scan(ctx, io.LimitReader(zero{}, 16<<20))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || found != "" {
		t.Fatalf("Scan(16 MiB of zeros) = %q, %v", found, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("16 MiB scanned in %v, %d bytes allocated", took, alloc)
	if alloc > 1<<20 {
		t.Errorf("scanning 16 MiB allocated %d bytes, want under 1 MiB", alloc)
	}
}
