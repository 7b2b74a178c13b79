package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// series is one scrape: each sample by name{label="value",...}, labels
// sorted; histograms as name_count and name_sum.
type series map[string]float64

// scrapeMetrics reads the server's /metrics over HTTP, as Prometheus does.
func scrapeMetrics(t *testing.T, url string) series {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := series{}
	for name, f := range families {
		for _, m := range f.Metric {
			labels := make([]string, 0, len(m.Label))
			for _, l := range m.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name+key] = m.Counter.GetValue()
			case dto.MetricType_GAUGE:
				out[name+key] = m.Gauge.GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+key] = float64(m.Histogram.GetSampleCount())
				out[name+"_sum"+key] = m.Histogram.GetSampleSum()
			case dto.MetricType_UNTYPED:
				out[name+key] = m.Untyped.GetValue()
			}
		}
	}
	return out
}

// TestMetrics runs a flow (issue, upload, save, a refused save, list,
// delete, a broken query, a sweep, a reconciliation) and checks that each
// series moved by exactly what the flow did.
func TestMetrics(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			// No background sweeper: the test sweeps itself.
			e := newEnv(t, backend, "SWEEP_INTERVAL", "0")
			ms := httptest.NewServer(e.srv.Metrics.Handler())
			defer ms.Close()
			before := scrapeMetrics(t, ms.URL)

			ctx := context.Background()
			a, b := randomBytes(1000), randomBytes(2500)
			urls := e.createUploads(
				map[string]any{"originalName": "a.bin", "size": len(a)},
				map[string]any{"originalName": "b.bin", "size": len(b)},
				map[string]any{"originalName": "c.bin", "size": 300}, // never uploaded
			)
			e.put(urls[0], a)
			e.put(urls[1], b)
			var saved struct{ SaveFiles []fileNode }
			e.do(saveQ, map[string]any{"files": []map[string]any{
				{"fileName": urls[0].FileName, "originalName": "a.bin"},
				{"fileName": urls[1].FileName, "originalName": "b.bin"},
			}}, &saved)
			e.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{
				{"fileName": urls[2].FileName, "originalName": "c.bin"},
			}})
			e.do(listQ, map[string]any{"first": 10}, nil)
			e.do(deleteQ, map[string]any{"id": saved.SaveFiles[0].ID}, nil)
			e.fail("GRAPHQL_PARSE_FAILED", "{ files {", nil)
			e.do("query Mine { files { totalCount } }", nil, nil)
			// The API listener does not serve the metrics.
			res, err := client.Get(e.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("GET /metrics on the API listener: status %d, want 404", res.StatusCode)
			}

			// c's save window passes; the sweeper takes it.
			e.clock.advance(15*time.Minute + time.Hour + time.Minute + time.Second)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 1 {
				t.Fatalf("sweep: %+v, %v; want 1 upload", r, err)
			}
			if _, err := e.srv.Files.Reconcile(ctx, false); err != nil {
				t.Fatal(err)
			}

			after := scrapeMetrics(t, ms.URL)
			moved := map[string]float64{
				`filegraph_uploads_issued_total{}`:       3,
				`filegraph_uploads_issued_bytes_total{}`: 3800,
				`filegraph_files_saved_total{}`:          2,
				`filegraph_files_saved_bytes_total{}`:    3500,

				`filegraph_graphql_operations_total{operation="createUploadUrls",outcome="ok",type="mutation"}`:                 1,
				`filegraph_graphql_operations_total{operation="saveFiles",outcome="ok",type="mutation"}`:                        1,
				`filegraph_graphql_operations_total{operation="saveFiles",outcome="error",type="mutation"}`:                     1,
				`filegraph_graphql_operations_total{operation="files",outcome="ok",type="query"}`:                               1,
				`filegraph_graphql_operations_total{operation="deleteFile",outcome="ok",type="mutation"}`:                       1,
				`filegraph_graphql_operations_total{operation="invalid",outcome="error",type="unknown"}`:                        1,
				`filegraph_graphql_operations_total{operation="Mine",outcome="ok",type="query"}`:                                1,
				`filegraph_graphql_operation_duration_seconds_count{operation="saveFiles",outcome="error",type="mutation"}`:     1,
				`filegraph_graphql_operation_duration_seconds_count{operation="createUploadUrls",outcome="ok",type="mutation"}`: 1,
				`filegraph_graphql_errors_total{code="BAD_USER_INPUT",operation="saveFiles"}`:                                   1,
				`filegraph_graphql_errors_total{code="GRAPHQL_PARSE_FAILED",operation="invalid"}`:                               1,

				`filegraph_http_requests_total{code="200",method="POST",route="/query"}`:      7,
				`filegraph_http_request_duration_seconds_count{method="POST",route="/query"}`: 7,
				`filegraph_http_requests_total{code="404",method="GET",route="none"}`:         1,

				`filegraph_storage_calls_total{operation="presign_put",outcome="ok"}`: 3,
				`filegraph_storage_calls_total{operation="stat",outcome="ok"}`:        2,
				`filegraph_storage_calls_total{operation="stat",outcome="not_found"}`: 1,
				`filegraph_storage_calls_total{operation="delete",outcome="ok"}`:      2, // a, then c by the sweeper
				`filegraph_storage_calls_total{operation="list",outcome="ok"}`:        2, // files/ and public/
				`filegraph_storage_call_duration_seconds_count{operation="stat"}`:     3,

				`filegraph_uploads_aborted_total{reason="expired"}`: 1,
				`filegraph_swept_total{what="uploads"}`:             1,
				`filegraph_swept_total{what="deletes"}`:             0,
				`filegraph_sweeps_total{outcome="ok"}`:              1,
				`filegraph_sweeps_total{outcome="error"}`:           0,
				`filegraph_reconcile_runs_total{outcome="ok"}`:      1,
				`filegraph_reconcile_found{what="orphans"}`:         0,
				`filegraph_reconcile_found{what="missing"}`:         0,
			}
			if backend == "sqlite+disk" {
				// Disk storage serves the PUTs itself; on S3 they go to the bucket.
				moved[`filegraph_http_requests_total{code="200",method="PUT",route="/storage/"}`] = 2
			} else {
				// S3 cannot revoke a's upload URL: once it can no longer
				// write, the sweeper deletes a's key again (its tombstone).
				moved[`filegraph_storage_calls_total{operation="delete",outcome="ok"}`] = 3
			}
			for key, want := range moved {
				got, ok := after[key]
				if !ok {
					t.Errorf("no series %s", key)
					continue
				}
				if d := got - before[key]; d != want {
					t.Errorf("%s moved by %v, want %v", key, d, want)
				}
			}
			dbName := map[string]string{"sqlite+disk": "sqlite3", "postgres+s3": "postgres"}[backend]
			for _, key := range []string{
				`go_goroutines{}`,
				`process_resident_memory_bytes{}`,
				`go_sql_open_connections{db_name="` + dbName + `"}`,
			} {
				if after[key] <= 0 {
					t.Errorf("%s = %v, want a positive value", key, after[key])
				}
			}
			if _, ok := after[`go_sql_wait_count_total{db_name="`+dbName+`"}`]; !ok {
				t.Errorf("no pool statistics for %s", dbName)
			}
		})
	}
}

// TestMetricsMultipart: an upload in parts saved and one given up move the
// upload counters and the storage calls of parts by what they did.
func TestMetricsMultipart(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB", "SWEEP_INTERVAL", "0")
			ms := httptest.NewServer(e.srv.Metrics.Handler())
			defer ms.Close()
			before := scrapeMetrics(t, ms.URL)

			kept, given := randomBytes(5*mib+100), randomBytes(5*mib+1)
			m := e.createMultipart(
				map[string]any{"originalName": "kept.bin", "size": len(kept)},
				map[string]any{"originalName": "given.bin", "size": len(given)},
			)
			e.putParts(m[0], kept, false, 1, 2)
			e.do(saveQ, saveVars(m[0].FileName, "kept.bin"), nil)
			e.do(abortQ, map[string]any{"fileName": m[1].FileName}, nil)

			after := scrapeMetrics(t, ms.URL)
			for key, want := range map[string]float64{
				`filegraph_uploads_issued_total{}`:                                                                    2,
				`filegraph_uploads_issued_bytes_total{}`:                                                              float64(len(kept) + len(given)),
				`filegraph_files_saved_total{}`:                                                                       1,
				`filegraph_files_saved_bytes_total{}`:                                                                 float64(len(kept)),
				`filegraph_uploads_aborted_total{reason="client"}`:                                                    1,
				`filegraph_storage_calls_total{operation="create_multipart",outcome="ok"}`:                            2,
				`filegraph_storage_calls_total{operation="presign_part",outcome="ok"}`:                                2,
				`filegraph_storage_calls_total{operation="complete_multipart",outcome="ok"}`:                          1,
				`filegraph_storage_calls_total{operation="abort_multipart",outcome="ok"}`:                             1,
				`filegraph_graphql_operations_total{operation="createMultipartUploads",outcome="ok",type="mutation"}`: 1,
				`filegraph_graphql_operations_total{operation="uploadPartUrls",outcome="ok",type="mutation"}`:         1,
				`filegraph_graphql_operations_total{operation="abortUpload",outcome="ok",type="mutation"}`:            1,
			} {
				if d := after[key] - before[key]; d != want {
					t.Errorf("%s moved by %v, want %v", key, d, want)
				}
			}
		})
	}
}

// Operation names take metric labels (100 at most) only from callers with
// a token or from the trusted documents: before, 100 requests without a
// token named Anon000..Anon099 took every label, and every later real
// operation counted as "other" (issue 23).
func TestOperationNamesWithoutToken(t *testing.T) {
	e := newAuthEnv(t, "sqlite+disk")
	ms := httptest.NewServer(e.srv.Metrics.Handler())
	defer ms.Close()
	for i := range 100 {
		e.fail("UNAUTHENTICATED", fmt.Sprintf("query Anon%03d { files(first: 1) { totalCount } }", i), nil)
	}
	alice := e.as(token(t, "alice"))
	alice.do("query MyFiles { files(first: 1) { totalCount } }", nil, nil)
	// Once a caller with a token gave it its label, the name is counted
	// whoever sends it.
	e.fail("UNAUTHENTICATED", "query MyFiles { files(first: 1) { totalCount } }", nil)
	e.fail("UNAUTHENTICATED", "query NotYet { files(first: 1) { totalCount } }", nil)

	got := scrapeMetrics(t, ms.URL)
	for key, want := range map[string]float64{
		`filegraph_graphql_operations_total{operation="MyFiles",outcome="ok",type="query"}`:    1,
		`filegraph_graphql_operations_total{operation="MyFiles",outcome="error",type="query"}`: 1,
		`filegraph_graphql_operations_total{operation="other",outcome="error",type="query"}`:   101,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	var leaked []string
	for key := range got {
		if strings.Contains(key, `operation="Anon`) || strings.Contains(key, `operation="NotYet"`) {
			leaked = append(leaked, key)
		}
	}
	if len(leaked) > 0 {
		t.Errorf("requests without a token took labels: %d series, such as %s", len(leaked), leaked[0])
	}

	// Under trusted documents every name is one of the list's.
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]string
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	var filesHash string
	for hash, doc := range manifest {
		if strings.HasPrefix(doc, "query Files(") {
			filesHash = strings.TrimPrefix(hash, "sha256:")
		}
	}
	if filesHash == "" {
		t.Fatal("the manifest has no query Files")
	}
	e = newAuthEnv(t, "sqlite+disk", "GRAPHQL_TRUSTED_DOCUMENTS", manifestPath)
	ms2 := httptest.NewServer(e.srv.Metrics.Handler())
	defer ms2.Close()
	r := e.postRaw(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": filesHash}}})
	if len(r.Errors) != 1 || r.Errors[0].code() != "UNAUTHENTICATED" {
		t.Fatalf("Files without a token: %+v", r.Errors)
	}
	if key := `filegraph_graphql_operations_total{operation="Files",outcome="error",type="query"}`; scrapeMetrics(t, ms2.URL)[key] != 1 {
		t.Errorf("trusted documents: %s is not 1", key)
	}
}
