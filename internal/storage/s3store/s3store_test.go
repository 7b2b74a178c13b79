package s3store

import (
	"context"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

var s3srv *testenv.S3

func TestMain(m *testing.M) { testenv.RunWithS3(m, &s3srv) }

func newTestStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, Config{Bucket: bucket, Region: s3srv.Region, Endpoint: s3srv.Endpoint, ForcePathStyle: true, Credentials: s3srv.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, newTestStore(t))
}

func TestNewRefusesMissingBucket(t *testing.T) {
	_, err := New(context.Background(), Config{Bucket: "no-such-bucket", Region: s3srv.Region, Endpoint: s3srv.Endpoint, ForcePathStyle: true, Credentials: s3srv.Credentials()})
	if err == nil {
		t.Fatal("New with a missing bucket succeeded")
	}
}

func TestSetCORS(t *testing.T) {
	s := newTestStore(t)
	if err := s.SetCORS(context.Background(), []string{"https://app.example"}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPresignPut(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	opts := storage.PutOptions{Size: 1 << 20, ContentType: "image/jpeg", TTL: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignPut(ctx, "files/0123456789abcdef0123456789abcdef.jpg", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresignGet(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	opts := storage.GetOptions{FileName: "Résumé final.pdf", ContentType: "application/pdf", TTL: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignGet(ctx, "files/0123456789abcdef0123456789abcdef.pdf", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStat(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	storagetest.Upload(b, s, "files/bench.bin", "application/octet-stream", make([]byte, 1024))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Stat(ctx, "files/bench.bin"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMultipartConformance(t *testing.T) {
	s := newTestStore(t)
	s.SetPageSize(1) // listings take several pages
	storagetest.RunMultipart(t, s, s)
}
