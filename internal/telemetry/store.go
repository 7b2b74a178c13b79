package telemetry

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/filegraph/filegraph/internal/storage"
)

// Store counts, times and (with a tracer provider) traces each call to
// inner, as gocloud.dev's blob.Bucket instruments its driver: once, around
// the one interface. What only the wiring asks of a backend (its URL
// handler, its put gate, its cleaning) is asked of the backend itself.
func (m *Metrics) Store(inner storage.Store, tp trace.TracerProvider) storage.Store {
	s := &store{inner: inner, bucket: inner.Bucket()}
	if tp != nil {
		s.tracer = tp.Tracer(scope)
	}
	for _, c := range []struct {
		c  *call
		op string
	}{
		{&s.presignPut, "presign_put"}, {&s.presignGet, "presign_get"}, {&s.stat, "stat"}, {&s.open, "open"}, {&s.put, "put"},
		{&s.delete, "delete"}, {&s.ping, "ping"}, {&s.list, "list"},
		{&s.createMultipart, "create_multipart"}, {&s.presignPart, "presign_part"},
		{&s.listParts, "list_parts"}, {&s.completeMultipart, "complete_multipart"},
		{&s.abortMultipart, "abort_multipart"}, {&s.listMultipart, "list_multipart"},
	} {
		*c.c = m.storageCall(c.op)
	}
	return s
}

type store struct {
	inner  storage.Store
	bucket string
	tracer trace.Tracer // nil: no spans

	presignPut, presignGet, stat, open, put, delete, ping, list                               call
	createMultipart, presignPart, listParts, completeMultipart, abortMultipart, listMultipart call
}

var _ storage.Store = (*store)(nil)

// call is one storage operation's series, looked up once rather than per
// call.
type call struct {
	name                               string
	ok, notFound, unavailable, failure prometheus.Counter
	duration                           prometheus.Observer
}

func (m *Metrics) storageCall(op string) call {
	return call{
		name:        op,
		ok:          m.storageCalls.WithLabelValues(op, "ok"),
		notFound:    m.storageCalls.WithLabelValues(op, "not_found"),
		unavailable: m.storageCalls.WithLabelValues(op, "unavailable"),
		failure:     m.storageCalls.WithLabelValues(op, "error"),
		duration:    m.storageDuration.WithLabelValues(op),
	}
}

// inflight is a call under way.
type inflight struct {
	c     *call
	start time.Time
	span  trace.Span // nil: not traced
}

// begin starts a call; its end records it.
func (s *store) begin(ctx context.Context, c *call, key string) (context.Context, inflight) {
	f := inflight{c: c, start: time.Now()}
	// Only within a trace: the sweeper's calls would each start one of
	// their own, which says nothing the metrics do not.
	if s.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		attrs := []attribute.KeyValue{attribute.String("storage.bucket", s.bucket)}
		if key != "" {
			attrs = append(attrs, attribute.String("storage.key", key))
		}
		ctx, f.span = s.tracer.Start(ctx, "storage."+c.name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	}
	return ctx, f
}

func (f inflight) end(err error) {
	c := f.c
	c.duration.Observe(time.Since(f.start).Seconds())
	switch {
	case err == nil:
		c.ok.Inc()
	case errors.Is(err, storage.ErrNotExist):
		c.notFound.Inc()
	case errors.Is(err, storage.ErrUnavailable):
		c.unavailable.Inc()
	default:
		c.failure.Inc()
	}
	if f.span != nil {
		if err != nil && !errors.Is(err, storage.ErrNotExist) {
			f.span.RecordError(err)
			f.span.SetStatus(codes.Error, err.Error())
		}
		f.span.End()
	}
}

func (s *store) Bucket() string { return s.bucket }

func (s *store) PresignPut(ctx context.Context, key string, opts storage.PutOptions) (storage.Request, error) {
	ctx, op := s.begin(ctx, &s.presignPut, key)
	r, err := s.inner.PresignPut(ctx, key, opts)
	op.end(err)
	return r, err
}

func (s *store) PresignGet(ctx context.Context, key string, opts storage.GetOptions) (storage.Request, error) {
	ctx, op := s.begin(ctx, &s.presignGet, key)
	r, err := s.inner.PresignGet(ctx, key, opts)
	op.end(err)
	return r, err
}

func (s *store) Stat(ctx context.Context, key string) (storage.Object, error) {
	ctx, op := s.begin(ctx, &s.stat, key)
	o, err := s.inner.Stat(ctx, key)
	op.end(err)
	return o, err
}

// Open counts the opening; the reading is the caller's.
func (s *store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	ctx, op := s.begin(ctx, &s.open, key)
	r, err := s.inner.Open(ctx, key)
	op.end(err)
	return r, err
}

func (s *store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	ctx, op := s.begin(ctx, &s.put, key)
	err := s.inner.Put(ctx, key, data, contentType)
	op.end(err)
	return err
}

func (s *store) Delete(ctx context.Context, key string) error {
	ctx, op := s.begin(ctx, &s.delete, key)
	err := s.inner.Delete(ctx, key)
	op.end(err)
	return err
}

func (s *store) Ping(ctx context.Context) error {
	ctx, op := s.begin(ctx, &s.ping, "")
	err := s.inner.Ping(ctx)
	op.end(err)
	return err
}

// MaxPutSize forwards a constant: nothing to measure.
func (s *store) MaxPutSize() int64 { return s.inner.MaxPutSize() }

// PublicURL forwards a string made in memory: nothing to measure.
func (s *store) PublicURL(key string) string { return s.inner.PublicURL(key) }

func (s *store) List(ctx context.Context, prefix string, fn func(key string) error) error {
	ctx, op := s.begin(ctx, &s.list, prefix)
	err := s.inner.List(ctx, prefix, fn)
	op.end(err)
	return err
}

func (s *store) CreateMultipart(ctx context.Context, key string, opts storage.MultipartOptions) (string, error) {
	ctx, op := s.begin(ctx, &s.createMultipart, key)
	id, err := s.inner.CreateMultipart(ctx, key, opts)
	op.end(err)
	return id, err
}

func (s *store) PresignPart(ctx context.Context, key, uploadID string, opts storage.PartOptions) (storage.Request, error) {
	ctx, op := s.begin(ctx, &s.presignPart, key)
	r, err := s.inner.PresignPart(ctx, key, uploadID, opts)
	op.end(err)
	return r, err
}

func (s *store) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	ctx, op := s.begin(ctx, &s.listParts, key)
	parts, err := s.inner.ListParts(ctx, key, uploadID)
	op.end(err)
	return parts, err
}

func (s *store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) error {
	ctx, op := s.begin(ctx, &s.completeMultipart, key)
	err := s.inner.CompleteMultipart(ctx, key, uploadID, parts)
	op.end(err)
	return err
}

func (s *store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	ctx, op := s.begin(ctx, &s.abortMultipart, key)
	err := s.inner.AbortMultipart(ctx, key, uploadID)
	op.end(err)
	return err
}

func (s *store) ListMultipart(ctx context.Context, prefix string, fn func(storage.MultipartUpload) error) error {
	ctx, op := s.begin(ctx, &s.listMultipart, prefix)
	err := s.inner.ListMultipart(ctx, prefix, fn)
	op.end(err)
	return err
}

// Copier counts, times and traces a store's copies (storage.Copier), an
// ability only some backends have, as Store does the calls of every store.
func (m *Metrics) Copier(inner storage.Copier, bucket string, tp trace.TracerProvider) storage.Copier {
	c := &copier{inner: inner, store: store{bucket: bucket}}
	if tp != nil {
		c.tracer = tp.Tracer(scope)
	}
	c.copy = m.storageCall("copy")
	return c
}

type copier struct {
	inner storage.Copier
	store // for its begin, bucket and tracer
	copy  call
}

var _ storage.Copier = (*copier)(nil)

func (c *copier) Copy(ctx context.Context, src, dst string) error {
	ctx, op := c.begin(ctx, &c.copy, dst)
	err := c.inner.Copy(ctx, src, dst)
	op.end(err)
	return err
}
