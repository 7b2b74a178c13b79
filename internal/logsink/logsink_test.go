package logsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// countingWriter records what reaches the output and in how many writes.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) snapshot() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.writes
}

// Records from many goroutines all arrive, whole and each once, in far
// fewer writes than records.
func TestBatchesWholeRecords(t *testing.T) {
	out := &countingWriter{}
	w := New(out, time.Hour, 4096)
	log := slog.New(slog.NewJSONHandler(w, nil))
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				log.Info("http.request", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("%d lines, want %d", len(lines), goroutines*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") || seen[l] {
			t.Fatalf("torn or repeated record: %q", l)
		}
		seen[l] = true
	}
	if writes > len(got)/4096+1 {
		t.Errorf("%d writes for %d bytes in batches of 4096", writes, len(got))
	}
	// Each goroutine's records stay in its order.
	for g := range goroutines {
		last := -1
		for _, l := range lines {
			var i int
			if _, err := fmt.Sscanf(l[strings.Index(l, `"g":`):], `"g":`+fmt.Sprint(g)+`,"i":%d}`, &i); err == nil {
				if i != last+1 {
					t.Fatalf("goroutine %d: record %d after %d", g, i, last)
				}
				last = i
			}
		}
	}
}

// A quiet server's records still come out within the interval.
func TestFlushesOnTheInterval(t *testing.T) {
	out := &countingWriter{}
	w := New(out, 10*time.Millisecond, 1<<20)
	defer w.Close()
	w.Write([]byte("one\n"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := out.snapshot(); got == "one\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a buffered record was not written within 10s of a 10ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkRecord: one access-log record written straight to a file, as
// slog does on its own, against the same record through a Writer.
func BenchmarkRecord(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		b.Run(fmt.Sprintf("buffered=%v", buffered), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var out interface{ Write([]byte) (int, error) } = f
			if buffered {
				w := New(f, 100*time.Millisecond, 64<<10)
				defer w.Close()
				out = w
			}
			log := slog.New(slog.NewJSONHandler(out, nil))
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(b.Context(), slog.LevelInfo, "http.request",
					slog.String("method", "POST"), slog.String("path", "/query"), slog.Int("status", 200),
					slog.Duration("duration", 1234*time.Microsecond), slog.String("request_id", "0123456789abcdef01234567"))
			}
		})
	}
}

// TestShorten: long strings, errors and Stringers are cut at MaxValue
// without splitting a character, and say so; messages get more room.
func TestShorten(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: Shorten}))
	long := strings.Repeat("é", MaxValue) // 2 bytes each: the cut falls inside one
	log.Info(strings.Repeat("m", 2*MaxValue), "s", long, "err", errors.New(long), "ok", "short",
		slog.Group("g", "s", long))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	g, _ := rec["g"].(map[string]any)
	for name, v := range map[string]any{"s": rec["s"], "err": rec["err"], "g.s": g["s"]} {
		s, _ := v.(string)
		kept, _, ok := strings.Cut(s, "…[")
		if !ok || len(kept) > MaxValue || !utf8.ValidString(kept) || !strings.HasSuffix(s, " more bytes]") {
			t.Errorf("%s: %d bytes kept (%q...), want at most %d of whole characters and a note", name, len(kept), s[:min(len(s), 20)], MaxValue)
		}
	}
	if rec["ok"] != "short" || len(rec["msg"].(string)) != 2*MaxValue {
		t.Errorf("short value %q or a %d-byte message was changed", rec["ok"], len(rec["msg"].(string)))
	}
}

// Shorten writes the level as the handlers write it without a
// ReplaceAttr, custom levels too, in both formats.
func TestShortenKeepsLevels(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn + 1, slog.LevelError} {
			var plain, shortened bytes.Buffer
			handler := func(buf *bytes.Buffer, opts *slog.HandlerOptions) slog.Handler {
				opts.Level = slog.LevelDebug
				if format == "json" {
					return slog.NewJSONHandler(buf, opts)
				}
				return slog.NewTextHandler(buf, opts)
			}
			// A zero time is left out of the line: the lines can be compared.
			r := slog.NewRecord(time.Time{}, level, "event", 0)
			r.AddAttrs(slog.String("k", "v"))
			handler(&plain, &slog.HandlerOptions{}).Handle(context.Background(), r)
			handler(&shortened, &slog.HandlerOptions{ReplaceAttr: Shorten}).Handle(context.Background(), r)
			if plain.String() != shortened.String() {
				t.Errorf("%s, %v: %q with Shorten, %q without", format, level, shortened.String(), plain.String())
			}
		}
	}
}
