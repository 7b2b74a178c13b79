package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/filegraph/filegraph/internal/files"
)

// Resolver holds what the resolvers need: the files service, where every
// rule lives. Resolvers only translate arguments and call it.
type Resolver struct {
	FileService *files.Service
}

// NewSchema returns the executable schema over svc.
func NewSchema(svc *files.Service) graphql.ExecutableSchema {
	c := Config{Resolvers: &Resolver{FileService: svc}}
	complexity(&c.Complexity)
	return NewExecutableSchema(c)
}
