package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalInOrder is graphql.MarshalSliceConcurrently without a goroutine
// per element: the elements are marshalled one after another on the
// caller's goroutine, each under its own FieldContext (so error paths name
// its index), and a panicking element is null with the panic reported, as
// there. Generated code calls it, for lists whose elements resolve nothing
// (see graph/codegen), where a goroutine and its growing stack cost more
// than marshalling the element does.
func marshalInOrder(ctx context.Context, length int, _ int64, omitPanicHandler bool, marshalElement func(context.Context, int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		ctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		ret[i] = marshalOne(ctx, i, omitPanicHandler, marshalElement)
	}
	return ret
}

func marshalOne(ctx context.Context, i int, omitPanicHandler bool, marshalElement func(context.Context, int) graphql.Marshaler) (m graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				m = graphql.Null
			}
		}()
	}
	return marshalElement(ctx, i)
}
