package graph

import (
	"context"
	"strings"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/files"
)

// Limits harden the endpoint against expensive queries.
type Limits struct {
	Introspection bool
	MaxDepth      int
	MaxComplexity int
	// Trusted, when set, lets only its documents run.
	Trusted *TrustedDocuments
}

// Codes for operations refused before they run: DEPTH_LIMIT_EXCEEDED is
// named as gqlgen names its complexity refusal; a disabled introspection is
// a validation failure, as Apollo Server reports it.
const (
	CodeDepthLimit       = "DEPTH_LIMIT_EXCEEDED"
	CodeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
)

// guard refuses operations nested deeper than maxDepth and, unless allowed,
// introspection (__schema, __type; __typename stays, clients rely on it).
// Introspection fields are not counted towards the depth: the standard
// introspection query is deep by nature.
type guard struct {
	maxDepth      int
	introspection bool
}

var (
	_ graphql.HandlerExtension        = guard{}
	_ graphql.OperationContextMutator = guard{}
)

func (guard) ExtensionName() string                   { return "Guard" }
func (guard) Validate(graphql.ExecutableSchema) error { return nil }

func (g guard) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if !g.introspection && introspects(oc.Operation.SelectionSet) {
		err := gqlerror.Errorf("introspection is disabled on this server")
		errcode.Set(err, CodeValidationFailed)
		return err
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0, g.maxDepth); depth > g.maxDepth {
		err := gqlerror.Errorf("operation is nested %d levels deep, over the limit of %d", depth, g.maxDepth)
		errcode.Set(err, CodeDepthLimit)
		return err
	}
	return nil
}

// selectionDepth returns the depth of set, stopping once past limit (which
// also ends any fragment recursion validation let through).
func selectionDepth(set ast.SelectionSet, depth, limit int) int {
	if depth > limit {
		return depth
	}
	deepest := depth
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			d = selectionDepth(s.SelectionSet, depth+1, limit)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, depth, limit)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = selectionDepth(s.Definition.SelectionSet, depth, limit)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// introspects reports whether the top level of an operation asks for the
// schema (introspection fields exist only on the query root).
func introspects(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && introspects(s.Definition.SelectionSet) {
				return true
			}
		}
	}
	return false
}

// complexity prices lists by how many items they ask for, so that the
// complexity limit bounds the rows and objects one request can touch.
func complexity(c *ComplexityRoot) {
	items := func(child, n int) int { return 1 + child*min(max(n, 1), 1<<20) }
	c.Query.Files = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.FileOrder, _ *ent.FileWhereInput) int {
		n := files.MaxPageSize
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return items(child, n)
	}
	c.Query.Nodes = func(child int, ids []uuid.UUID) int { return items(child, len(ids)) }
	c.Mutation.CreateUploadUrls = func(child int, f []*files.UploadRequest) int { return items(child, len(f)) }
	c.Mutation.SaveFiles = func(child int, f []*files.SaveRequest) int { return items(child, len(f)) }
	c.Mutation.CreateMultipartUploads = func(child int, f []*files.MultipartRequest) int { return items(child, len(f)) }
	c.Mutation.UploadPartUrls = func(child int, _ string, p []*files.PartRequest) int { return items(child, len(p)) }
	c.Query.Uploads = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int) int {
		n := files.MaxPageSize
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return items(child, n)
	}
	// Each upload's parts are one listing in storage (up to ten pages):
	// priced as ten items, whatever the count.
	c.PendingUpload.UploadedParts = func(child int) int { return items(child, 10) }
}
