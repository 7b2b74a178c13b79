package graph

import "github.com/99designs/gqlgen/graphql"

// plainFields says whether the generated fast paths of plain scalar
// fields (graph/codegen's plainFieldPaths) may be taken: only when the
// handler was made with no field interceptor, so that graphql.ResolveField
// would have called the field's read through an identity middleware. A
// schema made otherwise (NewSchema alone, as tests do) takes the full path.
func (ec *executionContext) plainFields() bool {
	r, ok := ec.Resolvers.(*Resolver)
	return ok && r.plainFields
}

// interceptsFields reports whether any of exts intercepts fields.
func interceptsFields(exts []graphql.HandlerExtension) bool {
	for _, e := range exts {
		if _, ok := e.(graphql.FieldInterceptor); ok {
			return true
		}
	}
	return false
}
