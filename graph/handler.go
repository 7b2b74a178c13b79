package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
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
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// MaxBodyBytes bounds a GraphQL request body; 100 upload requests with long
// names fit many times over.
const MaxBodyBytes = 1 << 20

// NewHandler serves GraphQL over HTTP (POST and GET, per the GraphQL over
// HTTP spec) on the files service, with extra gqlgen extensions (metrics,
// tracing) after its own.
func NewHandler(svc *files.Service, limits Limits, exts ...graphql.HandlerExtension) http.Handler {
	srv := handler.New(NewSchema(svc))
	srv.AddTransport(transport.Options{AllowedMethods: []string{"GET", "POST"}})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if limits.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(guard{maxDepth: limits.MaxDepth, introspection: limits.Introspection})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	for _, ext := range exts {
		srv.Use(ext)
	}
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		httplog.FromContext(ctx).ErrorContext(ctx, "graphql.panic", "panic", fmt.Sprint(v))
		return errors.New("internal panic") // masked by presentError
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if !jsonBody(r) {
				// CSRF: a page on another site can POST text/plain, form
				// or multipart bodies without a preflight, never JSON.
				writeError(w, http.StatusUnsupportedMediaType, CodeBadUserInput, "POST requests must have Content-Type: application/json")
				return
			}
			// gqlgen reports an unreadable body as a 200 with an error;
			// an oversized one is the client's fault and gets a 413.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
			if err != nil {
				status, msg := http.StatusBadRequest, "could not read the request body"
				if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
					status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over %d bytes", MaxBodyBytes)
				}
				writeError(w, status, CodeBadUserInput, msg)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		pw := &protocolWriter{ResponseWriter: w}
		srv.ServeHTTP(pw, r)
		pw.finish()
	})
}

// jsonBody reports whether a POST declares a JSON body.
func jsonBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// writeError answers a request refused before GraphQL runs.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"message":%q,"extensions":{"code":%q}}]}`, msg, code)
}

// protocolWriter brings gqlgen's answers in line with the GraphQL over HTTP
// spec where they differ: a mutation over GET is 405 with an Allow header
// (gqlgen: 406); a request error under application/json is 200 (gqlgen:
// 422); and a request error under application/graphql-response+json (400)
// carries no "data" entry (gqlgen writes "data": null).
type protocolWriter struct {
	http.ResponseWriter
	held *bytes.Buffer // the body of a request error, until finish
}

func (p *protocolWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotAcceptable:
		p.Header().Set("Allow", "GET, POST")
		code = http.StatusMethodNotAllowed
	case http.StatusUnprocessableEntity:
		code = http.StatusOK
	case http.StatusBadRequest:
		p.held = new(bytes.Buffer)
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *protocolWriter) Write(b []byte) (int, error) {
	if p.held != nil {
		return p.held.Write(b)
	}
	return p.ResponseWriter.Write(b)
}

func (p *protocolWriter) finish() {
	if p.held == nil {
		return
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(p.held.Bytes(), &resp); err != nil {
		p.ResponseWriter.Write(p.held.Bytes())
		return
	}
	delete(resp, "data")
	json.NewEncoder(p.ResponseWriter).Encode(resp)
}

// presentError is the one place errors become codes. Anything it does not
// recognise is logged with the request id and masked.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var (
		invalid  *files.InvalidError
		badInput *scalar.InputError
		limit    *files.LimitError
	)
	switch {
	case errors.As(err, &invalid):
		problems := make([]map[string]string, len(invalid.Problems))
		for i, p := range invalid.Problems {
			problems[i] = map[string]string{"field": p.Field, "message": p.Message}
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
	case errors.As(err, &badInput):
		return withCode(gqlErr, CodeBadUserInput, badInput.Error())
	case errors.Is(err, files.ErrNotFound):
		return withCode(gqlErr, CodeNotFound, files.ErrNotFound.Error())
	case errors.Is(err, files.ErrUnavailable):
		httplog.FromContext(ctx).WarnContext(ctx, "graphql.unavailable", "err", err)
		return withCode(gqlErr, CodeUnavailable, files.ErrUnavailable.Error())
	case gqlErr.Extensions["code"] != nil:
		return gqlErr // gqlgen's own: parse and validation failures
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
