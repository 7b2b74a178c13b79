package telemetry

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL returns the gqlgen extension that counts and times operations by
// name, type and outcome, and counts their errors by extensions.code. With
// a tracer provider it also makes a span per operation, and one per
// resolver: the fields that call the files service, which do the I/O.
//
// named says whether a request may give a new operation name a label of
// its own (an authenticated caller's, or any under trusted documents);
// other requests get a name only once such a request gave it one, so that
// anyone without a token cannot take the labels (nil: every request may).
func (m *Metrics) GraphQL(tp trace.TracerProvider, named func(context.Context) bool) graphql.HandlerExtension {
	o := operations{m: m, named: named}
	if tp == nil {
		return o
	}
	o.tracer = tp.Tracer(scope)
	return tracedOperations{o}
}

// maxOperationNames bounds the operation label: names come from clients,
// and past this many the rest count as "other".
const maxOperationNames = 100

type operations struct {
	m      *Metrics
	named  func(context.Context) bool
	tracer trace.Tracer // nil: no spans
}

var (
	_ graphql.HandlerExtension    = operations{}
	_ graphql.ResponseInterceptor = operations{}
	_ graphql.FieldInterceptor    = tracedOperations{}
)

func (operations) ExtensionName() string                   { return "Telemetry" }
func (operations) Validate(graphql.ExecutableSchema) error { return nil }
func (o operations) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	name, typ := "invalid", "unknown" // not parsed, or no such operation
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if !oc.Stats.OperationStart.IsZero() {
			start = oc.Stats.OperationStart // includes reading and parsing
		}
		if op := oc.Operation; op != nil {
			name, typ = o.m.gqlNames.label(operationName(op), o.named == nil || o.named(ctx)), string(op.Operation)
		}
	}
	var span trace.Span
	if o.tracer != nil {
		ctx, span = o.tracer.Start(ctx, typ+" "+name, trace.WithAttributes(
			attribute.String("graphql.operation.name", name),
			attribute.String("graphql.operation.type", typ),
		))
		defer span.End()
	}
	resp := next(ctx)
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" {
				code = "NONE"
			}
			o.m.gqlErrors.WithLabelValues(name, code).Inc()
			if span != nil {
				span.AddEvent("graphql.error", trace.WithAttributes(attribute.String("code", code), attribute.String("path", e.Path.String())))
			}
		}
		if span != nil {
			span.SetStatus(codes.Error, resp.Errors[0].Message)
		}
	}
	o.m.gqlOperations.WithLabelValues(name, typ, outcome).Inc()
	o.m.gqlDuration.WithLabelValues(name, typ, outcome).Observe(time.Since(start).Seconds())
	return resp
}

// tracedOperations adds resolver spans; it is a separate type so that
// without tracing no field pays for an interceptor.
type tracedOperations struct{ operations }

func (o tracedOperations) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := o.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.path", fc.Path().String()),
	))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}

// operationName is the operation's own name or, for an anonymous one, its
// root fields ("createUploadUrls", "files+file"), which say more than
// "anonymous" does.
func operationName(op *ast.OperationDefinition) string {
	if op.Name != "" {
		return op.Name
	}
	var fields []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && !slices.Contains(fields, f.Name) {
			fields = append(fields, f.Name)
		}
	}
	return strings.Join(fields, "+")
}

// names hands out operation labels, up to a limit.
type names struct {
	limit int
	mu    sync.RWMutex
	seen  map[string]bool
}

// label is name's label: name itself if it has one, or if add and there is
// room for it; "other" otherwise.
func (n *names) label(name string, add bool) string {
	if name == "" {
		return "anonymous"
	}
	if len(name) > 64 {
		return "other"
	}
	n.mu.RLock()
	ok := n.seen[name]
	n.mu.RUnlock()
	if ok {
		return name
	}
	if !add {
		return "other"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil {
		n.seen = map[string]bool{}
	}
	if !n.seen[name] && len(n.seen) >= n.limit {
		return "other"
	}
	n.seen[name] = true
	return name
}
