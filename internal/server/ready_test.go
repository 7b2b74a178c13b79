package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage/s3store"
)

// readyzBecomes polls /readyz until it answers want, as a load balancer
// would: a change shows once the answer it caches has aged.
func readyzBecomes(t *testing.T, e *env, want int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := readyz(t, e)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still answers %d %v, want %d", code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzCachesChecks: a crowd polling /readyz costs the bucket one HEAD
// a second, not one per poll; a failure still shows in the first check
// after it; draining answers at once. The HEADs are counted on their way
// to the real S3 server.
func TestReadyzCachesChecks(t *testing.T) {
	target, _ := url.Parse(s3srv.Endpoint)
	forward := httputil.NewSingleHostReverseProxy(target)
	var heads atomic.Int64
	var failing atomic.Bool
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			heads.Add(1)
			if failing.Load() {
				// 403, which the SDK does not retry: one check, one HEAD.
				http.Error(w, "", http.StatusForbidden)
				return
			}
		}
		forward.ServeHTTP(w, r)
	}))
	defer counter.Close()
	ctx := context.Background()
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store, err := s3store.New(ctx, s3store.Config{
		Bucket: bucket, Region: s3srv.Region, Endpoint: counter.URL,
		ForcePathStyle: true, Credentials: s3srv.Credentials(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, "sqlite+disk", false, nil, WithStore(store))

	// 4 pollers, each polling every 5ms for 2.5s.
	const pollers = 4
	before, start := heads.Load(), time.Now()
	var wg sync.WaitGroup
	var polls, bad atomic.Int64
	for range pollers {
		wg.Go(func() {
			for time.Since(start) < 2500*time.Millisecond {
				polls.Add(1)
				res, err := client.Get(e.URL + "/readyz")
				if err != nil {
					bad.Add(1)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					bad.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	elapsed, n := time.Since(start), heads.Load()-before
	t.Logf("%d polls in %v: %d HEADs on the bucket", polls.Load(), elapsed.Round(time.Millisecond), n)
	if bad.Load() > 0 {
		t.Fatalf("%d polls failed or were not 200", bad.Load())
	}
	// A check starts at most once per readyFresh after the one before
	// ended, however slow the machine: so at most one per second, plus the
	// first.
	if limit := int64(elapsed/readyFresh) + 1; n > limit {
		t.Errorf("%d HEADs for %d polls in %v, want at most %d", n, polls.Load(), elapsed, limit)
	}

	// A failure is not hidden beyond the cached answer: the first check
	// after the bucket fails reports it.
	failing.Store(true)
	before = heads.Load()
	body := readyzBecomes(t, e, http.StatusServiceUnavailable)
	if body["storage"] != "unavailable" || body["database"] != "ok" {
		t.Errorf("storage failing: %v", body)
	}
	if n := heads.Load() - before; n != 1 {
		t.Errorf("the failure showed after %d HEADs, want the first", n)
	}
	failing.Store(false)
	readyzBecomes(t, e, http.StatusOK)

	// Draining is not cached: the very next poll says so.
	e.srv.Drain()
	if code, body := readyz(t, e); code != http.StatusServiceUnavailable || body["status"] != "draining" {
		t.Errorf("after Drain: %d %v", code, body)
	}
}
