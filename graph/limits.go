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
}

// CodeDepthLimit is extensions.code for a query nested too deep, named as
// gqlgen names its complexity refusal.
const CodeDepthLimit = "DEPTH_LIMIT_EXCEEDED"

// depthLimit refuses operations whose selections nest deeper than max.
// Introspection fields are not counted: the standard introspection query
// is deep by nature, and is off in production.
type depthLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = depthLimit{}
	_ graphql.OperationContextMutator = depthLimit{}
)

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0, d.max); depth > d.max {
		err := gqlerror.Errorf("operation is nested %d levels deep, over the limit of %d", depth, d.max)
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
}
