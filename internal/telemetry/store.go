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

var (
	_ storage.Lister          = listing{}
	_ storage.Multipart       = multipart{}
	_ storage.MultipartLister = multipartListing{}
)

// Store counts, times and (with a tracer provider) traces each call to
// inner. The store it returns has exactly the optional abilities inner has
// (storage.Lister, storage.URLServer, storage.Multipart,
// storage.MultipartLister), so callers that look for one by type assertion
// still find it, or still do not.
func (m *Metrics) Store(inner storage.Store, tp trace.TracerProvider) storage.Store {
	s := &store{inner: inner, bucket: inner.Bucket()}
	if tp != nil {
		s.tracer = tp.Tracer(scope)
	}
	for _, c := range []struct {
		c  *call
		op string
	}{
		{&s.presignPut, "presign_put"}, {&s.presignGet, "presign_get"}, {&s.stat, "stat"},
		{&s.delete, "delete"}, {&s.ping, "ping"}, {&s.list, "list"},
		{&s.createMultipart, "create_multipart"}, {&s.presignPart, "presign_part"},
		{&s.listParts, "list_parts"}, {&s.completeMultipart, "complete_multipart"},
		{&s.abortMultipart, "abort_multipart"}, {&s.listMultipart, "list_multipart"},
	} {
		*c.c = m.storageCall(c.op)
	}

	lister, canList := inner.(storage.Lister)
	urls, servesURLs := inner.(storage.URLServer)
	parts, hasParts := inner.(storage.Multipart)
	partsLister, listsParts := inner.(storage.MultipartLister)
	l, u, p, pl := listing{s, lister}, urls, multipart{s, parts}, multipartListing{s, partsLister}
	// One case per set of abilities: Go cannot add methods at run time, and
	// a method that is there must work.
	const (
		L = 1 << iota
		U
		P
		PL
	)
	var has int
	for bit, ok := range map[int]bool{L: canList, U: servesURLs, P: hasParts, PL: listsParts} {
		if ok {
			has |= bit
		}
	}
	switch has {
	case L:
		return struct {
			*store
			listing
		}{s, l}
	case U:
		return struct {
			*store
			storage.URLServer
		}{s, u}
	case L | U:
		return struct {
			*store
			listing
			storage.URLServer
		}{s, l, u}
	case P:
		return struct {
			*store
			multipart
		}{s, p}
	case L | P:
		return struct {
			*store
			listing
			multipart
		}{s, l, p}
	case U | P:
		return struct {
			*store
			storage.URLServer
			multipart
		}{s, u, p}
	case L | U | P:
		return struct {
			*store
			listing
			storage.URLServer
			multipart
		}{s, l, u, p}
	case PL:
		return struct {
			*store
			multipartListing
		}{s, pl}
	case L | PL:
		return struct {
			*store
			listing
			multipartListing
		}{s, l, pl}
	case U | PL:
		return struct {
			*store
			storage.URLServer
			multipartListing
		}{s, u, pl}
	case L | U | PL:
		return struct {
			*store
			listing
			storage.URLServer
			multipartListing
		}{s, l, u, pl}
	case P | PL:
		return struct {
			*store
			multipart
			multipartListing
		}{s, p, pl}
	case L | P | PL:
		return struct {
			*store
			listing
			multipart
			multipartListing
		}{s, l, p, pl}
	case U | P | PL:
		return struct {
			*store
			storage.URLServer
			multipart
			multipartListing
		}{s, u, p, pl}
	case L | U | P | PL:
		return struct {
			*store
			listing
			storage.URLServer
			multipart
			multipartListing
		}{s, l, u, p, pl}
	}
	return s
}

type store struct {
	inner  storage.Store
	bucket string
	tracer trace.Tracer // nil: no spans

	presignPut, presignGet, stat, delete, ping, list                                          call
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

// multipart is the storage.Multipart ability, for stores that have it.
type multipart struct {
	s     *store
	inner storage.Multipart
}

func (p multipart) CreateMultipart(ctx context.Context, key string, opts storage.MultipartOptions) (string, error) {
	ctx, op := p.s.begin(ctx, &p.s.createMultipart, key)
	id, err := p.inner.CreateMultipart(ctx, key, opts)
	op.end(err)
	return id, err
}

// MaxPutSize forwards a constant: nothing to measure.
func (p multipart) MaxPutSize() int64 { return p.inner.MaxPutSize() }

func (p multipart) PresignPart(ctx context.Context, key, uploadID string, opts storage.PartOptions) (storage.Request, error) {
	ctx, op := p.s.begin(ctx, &p.s.presignPart, key)
	r, err := p.inner.PresignPart(ctx, key, uploadID, opts)
	op.end(err)
	return r, err
}

func (p multipart) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	ctx, op := p.s.begin(ctx, &p.s.listParts, key)
	parts, err := p.inner.ListParts(ctx, key, uploadID)
	op.end(err)
	return parts, err
}

func (p multipart) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) error {
	ctx, op := p.s.begin(ctx, &p.s.completeMultipart, key)
	err := p.inner.CompleteMultipart(ctx, key, uploadID, parts)
	op.end(err)
	return err
}

func (p multipart) AbortMultipart(ctx context.Context, key, uploadID string) error {
	ctx, op := p.s.begin(ctx, &p.s.abortMultipart, key)
	err := p.inner.AbortMultipart(ctx, key, uploadID)
	op.end(err)
	return err
}

// multipartListing is the storage.MultipartLister ability.
type multipartListing struct {
	s     *store
	inner storage.MultipartLister
}

func (l multipartListing) ListMultipart(ctx context.Context, prefix string, fn func(storage.MultipartUpload) error) error {
	ctx, op := l.s.begin(ctx, &l.s.listMultipart, prefix)
	err := l.inner.ListMultipart(ctx, prefix, fn)
	op.end(err)
	return err
}
