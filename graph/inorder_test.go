package graph

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// marshalInOrder keeps MarshalSliceConcurrently's contract: each element
// under its own index, a panicking one null and reported at its path.
func TestMarshalInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(),
		func(ctx context.Context, err error) *gqlerror.Error { return graphql.DefaultErrorPresenter(ctx, err) },
		func(ctx context.Context, v any) error { return fmt.Errorf("recovered: %v", v) })
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "edges"}}})

	var order []int
	ret := marshalInOrder(ctx, 4, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		order = append(order, i)
		if fc := graphql.GetFieldContext(ctx); fc.Index == nil || *fc.Index != i {
			t.Errorf("element %d marshalled under index %v", i, fc.Index)
		}
		if i == 2 {
			panic("element 2")
		}
		return graphql.MarshalInt(i)
	})

	var buf bytes.Buffer
	ret.MarshalGQL(&buf)
	if buf.String() != "[0,1,null,3]" || fmt.Sprint(order) != "[0 1 2 3]" {
		t.Errorf("marshalled %s in order %v, want [0,1,null,3] in order [0 1 2 3]", buf.String(), order)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || errs[0].Message != "recovered: element 2" || errs[0].Path.String() != "edges[2]" {
		t.Errorf("errors %v, want the panic of element 2 at edges[2]", errs)
	}
}
