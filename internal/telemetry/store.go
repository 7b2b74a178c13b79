package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/filegraph/filegraph/internal/storage"
)

// Store counts, times and (with a tracer provider) traces each call to
// inner. The store it returns has exactly the optional abilities inner has
// (storage.Lister, storage.URLServer), so callers that look for one by type
// assertion still find it, or still do not.
func (m *Metrics) Store(inner storage.Store, tp trace.TracerProvider) storage.Store {
	s := &store{inner: inner, bucket: inner.Bucket()}
	if tp != nil {
		s.tracer = tp.Tracer(scope)
	}
	s.presignPut = m.storageCall("presign_put")
	s.presignGet = m.storageCall("presign_get")
	s.stat = m.storageCall("stat")
	s.delete = m.storageCall("delete")
	s.ping = m.storageCall("ping")
	s.list = m.storageCall("list")

	lister, canList := inner.(storage.Lister)
	urls, servesURLs := inner.(storage.URLServer)
	l := listing{s, lister}
	switch {
	case canList && servesURLs:
		return struct {
			*store
			listing
			storage.URLServer
		}{s, l, urls}
	case canList:
		return struct {
			*store
			listing
		}{s, l}
	case servesURLs:
		return struct {
			*store
			storage.URLServer
		}{s, urls}
	}
	return s
}

type store struct {
	inner  storage.Store
	bucket string
	tracer trace.Tracer // nil: no spans

	presignPut, presignGet, stat, delete, ping, list call
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
	if s.tracer != nil {
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

// listing is the storage.Lister ability, for stores that have it.
type listing struct {
	s     *store
	inner storage.Lister
}

func (l listing) List(ctx context.Context, prefix string, fn func(key string) error) error {
	ctx, op := l.s.begin(ctx, &l.s.list, prefix)
	err := l.inner.List(ctx, prefix, fn)
	op.end(err)
	return err
}
