package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
)

// BenchmarkListFilters is BenchmarkListGrowth's companion for folders and
// metadata: one user's 100,000 files (FILEGRAPH_BENCH_FILTER_ROWS says
// otherwise) in 1,000 folders (t0/f000 .. t9/f999, 100 files each) with
// metadata {project: p0..p99, kind: k0|k1}, bulk-inserted with their folder
// counts and metadata pairs and VACUUM ANALYZEd on PostgreSQL. Each case lists the second page of 50
// with totalCount, as the growth benchmark does, and reports its p99; the
// aim is that the folder and metadata filters stay within 1.5x of the
// unfiltered list. The folders query is measured beside them.
func BenchmarkListFilters(b *testing.B) {
	rows := 100_000
	if v := os.Getenv("FILEGRAPH_BENCH_FILTER_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("FILEGRAPH_BENCH_FILTER_ROWS: %v", err)
		}
		rows = n
	}
	e := newEnv(b, "postgres+s3")
	seedFolders(b, e, rows)
	list := func(where map[string]any) (string, map[string]any) {
		var first connection
		e.do(listQ, map[string]any{"first": 50, "where": where}, &first)
		if len(first.Files.Edges) != 50 {
			b.Fatalf("where %v: %d edges (%d in all), want 50", where, len(first.Files.Edges), first.Files.TotalCount)
		}
		return listQ, map[string]any{"first": 50, "after": first.Files.Edges[49].Cursor, "where": where}
	}
	type benchCase struct {
		name  string
		query string
		vars  map[string]any
	}
	var cases []benchCase
	for _, c := range []struct {
		name  string
		where map[string]any
	}{
		{"unfiltered", nil},
		{"folder", map[string]any{"folder": "t3/f345"}},
		{"folderHasPrefix", map[string]any{"folderHasPrefix": "t3"}},
		{"metadata=1", map[string]any{"metadata": []map[string]any{{"key": "project", "value": "p7"}}}},
		{"metadata=2", map[string]any{"metadata": []map[string]any{{"key": "project", "value": "p7"}, {"key": "kind", "value": "k1"}}}},
		{"folder+metadata", map[string]any{"folder": "t3/f345", "metadata": []map[string]any{{"key": "kind", "value": "k1"}}}},
	} {
		q, vars := list(c.where)
		cases = append(cases, benchCase{c.name, q, vars})
	}
	const foldersQ = `query($p: String) { folders(parent: $p) { path name fileCount } }`
	cases = append(cases,
		benchCase{"folders(root)", foldersQ, map[string]any{"p": ""}},
		benchCase{"folders(t3)", foldersQ, map[string]any{"p": "t3"}},
	)
	for _, c := range cases {
		b.Run(fmt.Sprintf("postgres+s3/rows=%d/%s", rows, c.name), func(b *testing.B) {
			b.ReportAllocs()
			var took []time.Duration
			for b.Loop() {
				s := time.Now()
				benchRequest(b, e.srv.Handler, c.query, c.vars)
				took = append(took, time.Since(s))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// seedFolders inserts rows files of development mode's user spread over
// 1,000 folders with metadata, their folder counts, metadata pairs and usage, and
// VACUUM ANALYZEs.
func seedFolders(b *testing.B, e *env, rows int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO files (id, bucket, file_name, original_name, size, content_type, created_at, owner, folder, metadata)
		SELECT gen_random_uuid(), 'bench', 'files/seed' || lpad(i::text, 27, '0') || '.bin', 'seed-' || i || '.bin', i,
			'application/octet-stream', now() - make_interval(secs => i), $1,
			't' || ((i % 1000) / 100) || '/f' || lpad((i % 1000)::text, 3, '0'),
			jsonb_build_object('project', 'p' || (i % 100), 'kind', 'k' || (i % 2))
		FROM generate_series(1, $2::bigint) AS i`,
		// Each folder of each file and every folder above it, as the
		// folder_counts migration's backfill counts them.
		`INSERT INTO folder_counts (id, owner, collection, parent, name, file_count)
		SELECT gen_random_uuid(), owner, collection, array_to_string(s[1:n-1], '/'), s[n], COUNT(*)
		FROM (SELECT owner, collection, string_to_array(folder, '/') AS s FROM files WHERE owner = $1 AND folder <> '' AND $2::bigint > 0) AS f,
			generate_series(1, cardinality(s)) AS n
		GROUP BY owner, collection, array_to_string(s[1:n-1], '/'), s[n]`,
		// Each pair of each file's metadata, as saveFiles writes them.
		`INSERT INTO metadata_pairs (owner, key, value, created_at, file_id)
		SELECT f.owner, m.key, m.value, f.created_at, f.id FROM files AS f, jsonb_each_text(f.metadata) AS m
		WHERE f.owner = $1 AND $2::bigint > 0`,
	} {
		if _, err := e.srv.db.SQL.ExecContext(ctx, q, auth.LocalUser.ID, rows); err != nil {
			b.Fatal(err)
		}
	}
	setUsage(b, e, auth.LocalUser.ID)
	// VACUUM too: a bulk insert leaves the GIN index's entries in its
	// pending list, which autovacuum merges on a table in steady state.
	for _, t := range []string{"files", "folder_counts", "metadata_pairs"} {
		if _, err := e.srv.db.SQL.ExecContext(ctx, "VACUUM ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d rows in 1,000 folders in %v", rows, time.Since(start).Round(time.Millisecond))
}
