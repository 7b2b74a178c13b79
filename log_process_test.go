package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLongRequestDataIsCutInTheLog: one unauthenticated request with a
// 900 KB path cannot write a megabyte line to the log; the real binary cuts
// each logged value at 1 KiB, in both formats, and JSON stays JSON.
func TestLongRequestDataIsCutInTheLog(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			d, _ := diskDeployment(t)
			p := d.start("LOG_FORMAT="+format, "DRAIN_DELAY=0s")
			res, err := client.Get(p.base + "/storage/" + strings.Repeat("%ff", 300_000))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()

			var line string
			deadline := time.Now().Add(10 * time.Second)
			for line == "" {
				for l := range strings.SplitSeq(p.out.String(), "\n") {
					if strings.Contains(l, "http.request") && strings.Contains(l, "/storage/") {
						line = l
					}
				}
				if line == "" {
					if time.Now().After(deadline) {
						t.Fatalf("no http.request record for the long path within 10s:\n%.4000s", p.out)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			longest := 0
			for l := range strings.SplitSeq(p.out.String(), "\n") {
				longest = max(longest, len(l))
			}
			t.Logf("%s: the request's line is %d bytes, the longest line %d (status %d)", format, len(line), longest, res.StatusCode)
			// 1 KiB of path, escaped (\xff or \ufffd per byte), and the rest
			// of the record.
			if longest > 8<<10 {
				t.Errorf("a %d-byte log line; want each value cut to 1 KiB", longest)
			}
			if !strings.Contains(line, "more bytes") {
				t.Errorf("the cut path does not say it was cut: %.300s", line)
			}
			if format == "json" {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Errorf("the record is not JSON: %v", err)
				}
			}
			if res.StatusCode == http.StatusOK {
				t.Errorf("GET of a path of 0xff bytes answered 200")
			}
		})
	}
}
