package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/diskstore"
)

// The instrumentation alone, side by side with the same work without it:
// what one request pays for the route series, and one storage call for its
// series.

func BenchmarkRoutes(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /query", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	m := NewMetrics()
	for name, h := range map[string]http.Handler{"bare": mux, "metrics": m.Routes(mux)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodPost, "/query", nil)
			for b.Loop() {
				h.ServeHTTP(discard{}, req)
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	disk, err := diskstore.New(b.TempDir(), "http://127.0.0.1:1/storage/", make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opts := storage.GetOptions{FileName: "a.pdf", ContentType: "application/pdf", TTL: time.Minute}
	for name, s := range map[string]storage.Store{"bare": disk, "metrics": NewMetrics().Store(disk, nil)} {
		b.Run("PresignGet/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.PresignGet(ctx, "files/0123456789abcdef0123456789abcdef.pdf", opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
