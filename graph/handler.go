package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/filegraph/filegraph/graph/scalar"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/httplog"
)

// Error codes in extensions.code.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeUnavailable     = "UNAVAILABLE"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	// The virus scan holds the file (extensions.status says where it is),
	// or found it infected.
	CodeFileNotReady = "FILE_NOT_READY"
	CodeFileInfected = "FILE_INFECTED"
	// A variant the file's collection configures that the file does not
	// have: extensions.pending says whether its job is still due.
	CodeVariantNotReady = "VARIANT_NOT_READY"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	// CodeClientGone answers a request whose client disconnected; nobody
	// reads it, but metrics count it apart from failures.
	CodeClientGone = "CLIENT_CLOSED_REQUEST"
)

// MaxBodyBytes bounds a GraphQL request body; 100 upload requests with long
// names fit many times over.
const MaxBodyBytes = 1 << 20

// MaxTokens bounds the tokens the parser reads of one document (graphql-
// java's default), so that what a document costs to parse and to hold is
// bounded by more than the body size. The introspection query has ~300.
const MaxTokens = 15000

// QueryCacheBytes bounds the memory of each of the two query caches
// (parsed documents, persisted queries), besides their 1000 entries.
const QueryCacheBytes = 16 << 20

// docBytesPerByte is what a parsed document holds per byte of its text, at
// most: documents of nothing but fields measured 22 to 38.
const docBytesPerByte = 40

// NewHandler serves GraphQL over HTTP (POST and GET, per the GraphQL over
// HTTP spec) on the files service, with extra gqlgen extensions (metrics,
// tracing) after its own; subs, when not nil, serves subscriptions over
// WebSocket and Server-Sent Events. The limits apply to every transport.
func NewHandler(svc *files.Service, limits Limits, subs *Subscriptions, exts ...graphql.HandlerExtension) http.Handler {
	r := &Resolver{FileService: svc, Subscriptions: subs}
	srv := handler.New(newSchema(r))
	// Every extension goes through use, so that r knows whether any
	// intercepts fields (srv.AroundFields would add one unseen: use
	// graphql.FieldFunc through use instead).
	var used []graphql.HandlerExtension
	use := func(e graphql.HandlerExtension) {
		srv.Use(e)
		used = append(used, e)
	}
	srv.AddTransport(transport.Options{AllowedMethods: []string{"GET", "POST"}})
	if subs != nil {
		// Before the HTTP transport, which would take an event stream's POST.
		for _, t := range subs.transports() {
			srv.AddTransport(t)
		}
	}
	srv.AddTransport(httpTransport{})
	docs := newCache(1000, QueryCacheBytes, func(q string, _ *ast.QueryDocument) int { return docBytesPerByte * len(q) })
	srv.SetParserTokenLimit(MaxTokens)
	srv.SetQueryCache(docs)
	// First, so that it cuts every answer, refusals included, and the
	// extensions after it (metrics) still see every error.
	use(errorCap{})
	if limits.Trusted != nil {
		// Before the APQ cache, which would answer a manifest hash with
		// PersistedQueryNotFound.
		use(limits.Trusted)
	}
	use(extension.AutomaticPersistedQuery{Cache: newCache(1000, QueryCacheBytes, func(h, q string) int { return len(h) + len(q) })})
	// The judge comes next (once the query is known): no other extension
	// sees an operation before it is judged.
	use(&judge{docs: docs, maxDepth: limits.MaxDepth, maxComplexity: limits.MaxComplexity, introspection: limits.Introspection})
	if limits.Introspection {
		use(extension.Introspection{})
	}
	for _, ext := range exts {
		use(ext)
	}
	// Each query and mutation loads the variants of the files it lists in
	// one query; a subscription's events each read their own (a request's
	// loads would keep them stale for the subscription's life).
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation != ast.Subscription {
			ctx = files.WithVariantLoads(ctx)
		}
		return next(ctx)
	})
	r.plainFields = !interceptsFields(used)
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		httplog.FromContext(ctx).ErrorContext(ctx, "graphql.panic", "panic", fmt.Sprint(v))
		return errPanic // masked by presentError
	})
	if subs != nil {
		return subs.guard(srv)
	}
	return srv
}

// errPanic is what a recovered panic becomes.
var errPanic = errors.New("internal panic")

// presentError is the one place errors become codes. Anything it does not
// recognise is logged with the request id and masked.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var (
		invalid  *files.InvalidError
		badInput *scalar.InputError
		limit    *files.LimitError
		notFound *files.NotFoundError
		held     *files.NotServableError
		variant  *files.VariantNotReadyError
	)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The client went away mid-request, so whatever failed was
		// waiting on a cancelled call (drivers word that differently:
		// lib/pq's "canceling statement due to user request"). Not a
		// failure of ours, and nobody reads the answer.
		httplog.FromContext(ctx).DebugContext(ctx, "graphql.client_gone", "err", err)
		return withCode(gqlErr, CodeClientGone, "the client closed the request")
	case errors.As(err, &invalid):
		problems := make([]map[string]string, len(invalid.Problems))
		for i, p := range invalid.Problems {
			problems[i] = map[string]string{"field": p.Field, "message": p.Message}
			if p.Rule != "" { // a collection's rule refused it
				problems[i]["rule"], problems[i]["collection"] = p.Rule, p.Collection
			}
		}
		e := withCode(gqlErr, CodeBadUserInput, invalid.Error())
		e.Extensions["problems"] = problems
		return e
	case errors.Is(err, auth.ErrUnauthenticated):
		return withCode(gqlErr, CodeUnauthenticated, err.Error())
	case errors.As(err, &limit):
		e := withCode(gqlErr, CodeForbidden, limit.Message)
		e.Extensions["limit"] = limit.Limit
		return e
	case errors.As(err, &held):
		code := CodeFileNotReady
		if held.Infected {
			code = CodeFileInfected
		}
		e := withCode(gqlErr, code, held.Error())
		e.Extensions["status"] = held.Status
		return e
	case errors.As(err, &variant):
		e := withCode(gqlErr, CodeVariantNotReady, variant.Error())
		e.Extensions["variant"], e.Extensions["pending"] = variant.Variant, variant.Pending
		return e
	case errors.As(err, &badInput):
		return withCode(gqlErr, CodeBadUserInput, badInput.Error())
	case errors.As(err, &notFound):
		e := withCode(gqlErr, CodeNotFound, notFound.Error())
		ids := make([]string, len(notFound.IDs))
		for i, id := range notFound.IDs {
			ids[i] = id.String()
		}
		e.Extensions["ids"] = ids
		return e
	case errors.Is(err, files.ErrNotFound):
		msg := files.ErrNotFound.Error()
		if errors.Is(err, files.ErrUploadNotFound) {
			msg = files.ErrUploadNotFound.Error()
		}
		return withCode(gqlErr, CodeNotFound, msg)
	case errors.Is(err, files.ErrUnavailable):
		httplog.FromContext(ctx).WarnContext(ctx, "graphql.unavailable", "err", err)
		return withCode(gqlErr, CodeUnavailable, files.ErrUnavailable.Error())
	case gqlErr.Extensions["code"] != nil:
		return gqlErr // gqlgen's own: parse and validation failures
	case len(gqlErr.Path) == 1 && gqlErr.Path[0] == ast.PathName("_entities") && !errors.Is(err, errPanic):
		// gqlgen's federation runtime refusing a representation (no or an
		// unknown __typename, no id, an id that is not a UUID): the
		// router's request, not our failure.
		return withCode(gqlErr, CodeBadUserInput, `_entities: each representation must be {"__typename": "File", "id": a file's id}`)
	case gqlErr.Err == nil:
		// Made by gqlgen from the request itself (a null where none is
		// allowed, a bad variable): the client's to fix.
		return withCode(gqlErr, CodeBadUserInput, gqlErr.Message)
	}
	httplog.FromContext(ctx).ErrorContext(ctx, "graphql.internal_error", "err", err, "path", gqlErr.Path.String())
	e := withCode(gqlErr, CodeInternal, "internal server error")
	e.Extensions["requestId"] = httplog.RequestID(ctx)
	return e
}

// withCode keeps where the error happened and replaces what it says.
func withCode(e *gqlerror.Error, code, message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Path: e.Path, Locations: e.Locations, Extensions: map[string]any{"code": code}}
}

// MaxErrors bounds the errors one answer lists: past it, one more error
// says how many were left out. A request makes an error per unused
// variable or per failing alias, so 3,000 unused variables (30 KB) were
// answered with 414 KB.
const MaxErrors = 50

// errorCap cuts an answer's errors to MaxErrors and one that counts the
// rest, with the code of the first it stands for (a refused document stays
// GRAPHQL_VALIDATION_FAILED) and extensions.omitted. It intercepts
// responses, so it sees both refusals and executed operations' answers.
type errorCap struct{}

var (
	_ graphql.HandlerExtension    = errorCap{}
	_ graphql.ResponseInterceptor = errorCap{}
)

func (errorCap) ExtensionName() string                   { return "ErrorCap" }
func (errorCap) Validate(graphql.ExecutableSchema) error { return nil }

func (errorCap) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= MaxErrors+1 {
		return resp
	}
	rest := resp.Errors[MaxErrors:]
	more := &gqlerror.Error{
		Message:    fmt.Sprintf("and %d more errors", len(rest)),
		Extensions: map[string]any{"code": rest[0].Extensions["code"], "omitted": len(rest)},
	}
	resp.Errors = append(resp.Errors[:MaxErrors:MaxErrors], more)
	return resp
}
