package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
)

// checkUsage compares every user's usage row with their rows: pending
// uploads, and files not being deleted, counted and summed (an INFECTED
// file's bytes are released: its object is gone).
func checkUsage(t testing.TB, e *env) {
	t.Helper()
	ctx := context.Background()
	rows, err := e.srv.db.SQL.QueryContext(ctx, `SELECT o.owner,
		COALESCE(u.pending_count, -1), COALESCE(u.pending_bytes, -1), COALESCE(u.saved_count, -1), COALESCE(u.saved_bytes, -1),
		(SELECT COUNT(*) FROM uploads WHERE owner = o.owner), (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE owner = o.owner),
		(SELECT COUNT(*) FROM files WHERE owner = o.owner AND deleted_at IS NULL),
		(SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = o.owner AND deleted_at IS NULL AND status <> 'INFECTED') +
		(SELECT COALESCE(SUM(v.size), 0) FROM file_variants v JOIN files f ON f.id = v.file_id WHERE f.owner = o.owner AND f.deleted_at IS NULL)
		FROM (SELECT owner FROM usages UNION SELECT owner FROM uploads UNION SELECT owner FROM files) AS o
		LEFT JOIN usages u ON u.owner = o.owner`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var got, want [4]int64
		if err := rows.Scan(&owner, &got[0], &got[1], &got[2], &got[3], &want[0], &want[1], &want[2], &want[3]); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("usage of %q (pending count, bytes, saved count, bytes) is %v, its rows say %v", owner, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// Usage rows follow every way uploads and files come and go: issue, save,
// delete (by the owner and by an admin), a refused delete's undo, the
// sweep of expired uploads and reconcile's removal of rows whose objects
// are gone; the listing's totalCount comes from them.
func TestUsageStaysExact(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend, "UPLOAD_URL_TTL", "1m", "UPLOAD_SAVE_WINDOW", "1m")
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			admin := e.as(token(t, "root", "admin"))
			a1 := alice.upload("a1.txt", "text/plain", []byte("one"))
			alice.upload("a2.txt", "text/plain", []byte("two!"))
			a3 := alice.upload("a3.txt", "text/plain", []byte("three"))
			bob.upload("b1.txt", "text/plain", []byte("bob's"))
			alice.createUploads(map[string]any{"originalName": "never.txt", "size": 9})
			checkUsage(t, e)

			alice.do(deleteQ, map[string]any{"id": a1.ID}, nil)
			admin.do(deleteQ, map[string]any{"id": a3.ID}, nil)
			var c connection
			alice.do(listQ, map[string]any{"first": 1}, &c)
			if c.Files.TotalCount != 1 {
				t.Errorf("alice's totalCount after two deletes: %d, want 1", c.Files.TotalCount)
			}
			admin.do(listQ, map[string]any{"first": 1}, &c)
			if c.Files.TotalCount != 2 {
				t.Errorf("admin's totalCount: %d, want 2 (one each)", c.Files.TotalCount)
			}
			alice.do(listQ, map[string]any{"first": 1, "where": map[string]any{"sizeGT": 100}}, &c)
			if c.Files.TotalCount != 0 {
				t.Errorf("filtered totalCount: %d, want 0", c.Files.TotalCount)
			}
			checkUsage(t, e)

			// Expired and swept.
			e.clock.advance(3 * time.Minute)
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 1 {
				t.Fatalf("sweep: %+v, %v", r, err)
			}
			checkUsage(t, e)

			// An object lost behind the server's back; reconcile -fix drops its row.
			var b connection
			bob.do(listQ, nil, &b)
			if err := e.store.Delete(ctx, b.Files.Edges[0].Node.FileName); err != nil {
				t.Fatal(err)
			}
			if r, err := e.srv.Files.Reconcile(ctx, true); err != nil || len(r.Missing) != 1 {
				t.Fatalf("reconcile: %+v, %v", r, err)
			}
			bob.do(listQ, nil, &b)
			if b.Files.TotalCount != 0 {
				t.Errorf("bob's totalCount after reconcile: %d", b.Files.TotalCount)
			}
			checkUsage(t, e)
		})
	}
}

// setUsage sets owner's saved count and bytes from their rows, for
// benchmarks that seed files straight into the database.
func setUsage(b *testing.B, e *env, owner string) {
	b.Helper()
	if _, err := e.srv.db.SQL.ExecContext(context.Background(), `INSERT INTO usages (owner, saved_count, saved_bytes)
		SELECT owner, COUNT(*), SUM(size) FROM files WHERE owner = $1 AND deleted_at IS NULL GROUP BY owner
		ON CONFLICT (owner) DO UPDATE SET saved_count = excluded.saved_count, saved_bytes = excluded.saved_bytes`, owner); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListGrowth lists files(first: 50) with totalCount, from the
// middle of one user's files, at 1,000 rows and at many (1,000,000 unless
// FILEGRAPH_BENCH_LIST_ROWS says otherwise; CI's single pass uses fewer),
// bulk-inserted and ANALYZEd. It reports each size's p99: the aim is that
// the large one stays within 1.5x of the small one.
func BenchmarkListGrowth(b *testing.B) {
	sizes := []int{1000, 1_000_000}
	if v := os.Getenv("FILEGRAPH_BENCH_LIST_ROWS"); v != "" {
		sizes = sizes[:1]
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				b.Fatalf("FILEGRAPH_BENCH_LIST_ROWS: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, rows := range sizes {
		e := newEnv(b, "postgres+s3")
		bulkSeed(b, e, rows)
		var first connection
		e.do(listQ, map[string]any{"first": 50, "after": nil}, &first)
		if first.Files.TotalCount != rows || len(first.Files.Edges) != 50 {
			b.Fatalf("seeded listing: %d total, %d edges", first.Files.TotalCount, len(first.Files.Edges))
		}
		vars := map[string]any{"first": 50, "after": first.Files.Edges[49].Cursor}
		b.Run(fmt.Sprintf("postgres+s3/first=50/rows=%d", rows), func(b *testing.B) {
			b.ReportAllocs()
			var took []time.Duration
			for b.Loop() {
				s := time.Now()
				benchRequest(b, e.srv.Handler, listQ, vars)
				took = append(took, time.Since(s))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// bulkSeed inserts rows files of development mode's user in one statement,
// sets the usage row to match, and ANALYZEs.
func bulkSeed(b *testing.B, e *env, rows int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO files (id, bucket, file_name, original_name, size, content_type, created_at, owner)
		SELECT gen_random_uuid(), 'bench', 'files/seed' || lpad(i::text, 27, '0') || '.bin', 'seed-' || i || '.bin', i,
			'application/octet-stream', now() - make_interval(secs => i), $1
		FROM generate_series(1, $2::bigint) AS i`,
	} {
		if _, err := e.srv.db.SQL.ExecContext(ctx, q, auth.LocalUser.ID, rows); err != nil {
			b.Fatal(err)
		}
	}
	setUsage(b, e, auth.LocalUser.ID)
	if _, err := e.srv.db.SQL.ExecContext(ctx, "ANALYZE files"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rows in %v", rows, time.Since(start).Round(time.Millisecond))
}
