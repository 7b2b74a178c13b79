package graph

import (
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/storage"
)

// Resolver holds what the resolvers need: the files service, where every
// rule lives. Resolvers only translate arguments and call it.
type Resolver struct {
	FileService   *files.Service
	Subscriptions *Subscriptions // nil: subscriptions are refused
	// plainFields: no field interceptor is installed (see plainFields).
	plainFields bool
}

// NewSchema returns the executable schema over svc; subs serves its
// subscriptions (nil: none).
func NewSchema(svc *files.Service, subs *Subscriptions) graphql.ExecutableSchema {
	return newSchema(&Resolver{FileService: svc, Subscriptions: subs})
}

func newSchema(r *Resolver) graphql.ExecutableSchema {
	c := Config{Resolvers: r}
	complexity(&c.Complexity)
	return NewExecutableSchema(c)
}

// apiHeaders copies a presigned request's headers into the API's own type,
// so that what the schema promises does not follow storage's Go types.
func apiHeaders(hs []storage.Header) []*HTTPHeader {
	out := make([]*HTTPHeader, len(hs))
	for i, h := range hs {
		out[i] = &HTTPHeader{Name: h.Name, Value: h.Value}
	}
	return out
}

// representedIDs are the ids of the File references a supergraph's router
// sent to _entities, in its order.
func representedIDs(reps []*FileByIDsInput) []uuid.UUID {
	ids := make([]uuid.UUID, len(reps))
	for i, r := range reps {
		ids[i] = r.ID
	}
	return ids
}
