// Package stock is the stock-gqlgen floor of `make bench-load`: gqlgen's
// handler.New with POST, the query cache and APQ, and resolvers that only
// call bench/floor/sqlfloor. Filegraph pays what this pays plus its own
// work, so its rate as a fraction of this one is what that work costs.
package stock

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/filegraph/filegraph/bench/floor/sqlfloor"
)

type userKey struct{}

// WithUser is the context of a request by user (verified by the caller).
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

func user(ctx context.Context) string { s, _ := ctx.Value(userKey{}).(string); return s }

// NewHandler is gqlgen's handler.New as its documentation sets it up for
// POST.
func NewHandler(f *sqlfloor.Floor) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{f: f}}))
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	return srv
}

type Resolver struct{ f *sqlfloor.Floor }

func (r *Resolver) Query() QueryResolver       { return (*queryResolver)(r) }
func (r *Resolver) Mutation() MutationResolver { return (*mutationResolver)(r) }

type queryResolver Resolver

func (r *queryResolver) Files(ctx context.Context, first *int) (*FileConnection, error) {
	n := 50
	if first != nil {
		n = *first
	}
	files, more, err := r.f.Page(ctx, user(ctx), n)
	if err != nil {
		return nil, err
	}
	total, err := r.f.Count(ctx, user(ctx))
	if err != nil {
		return nil, err
	}
	c := &FileConnection{TotalCount: int(total), PageInfo: &PageInfo{HasNextPage: more}, Edges: make([]*FileEdge, len(files))}
	for i, fl := range files {
		c.Edges[i] = &FileEdge{Node: fl, Cursor: fl.ID.String()}
	}
	if len(files) > 0 {
		c.PageInfo.EndCursor = &c.Edges[len(files)-1].Cursor
	}
	return c, nil
}

func (r *queryResolver) FileDownloadURL(ctx context.Context, id uuid.UUID) (*DownloadURL, error) {
	req, err := r.f.Download(ctx, user(ctx), id)
	if err != nil {
		return nil, err
	}
	return &DownloadURL{URL: req.URL, ExpiresAt: req.ExpiresAt}, nil
}

type mutationResolver Resolver

func (r *mutationResolver) CreateUploadUrls(ctx context.Context, files []*sqlfloor.Upload) ([]*UploadURL, error) {
	out := make([]*UploadURL, len(files))
	for i, in := range files {
		up, err := r.f.Create(ctx, user(ctx), *in)
		if err != nil {
			return nil, err
		}
		u := &UploadURL{FileName: up.FileName, OriginalName: up.OriginalName, URL: up.Request.URL,
			Method: up.Request.Method, ExpiresAt: up.Request.ExpiresAt}
		for k, v := range up.Request.Headers {
			u.Headers = append(u.Headers, &Header{Name: k, Value: v})
		}
		out[i] = u
	}
	return out, nil
}

func (r *mutationResolver) SaveFiles(ctx context.Context, files []*SaveFileInput) ([]*sqlfloor.File, error) {
	names := make([]string, len(files))
	for i, in := range files {
		names[i] = in.FileName
	}
	return r.f.Save(ctx, user(ctx), names)
}

func (r *mutationResolver) DeleteFile(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	return id, r.f.Delete(ctx, user(ctx), id)
}
