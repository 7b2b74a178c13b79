package graph

import (
	"context"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// fieldCounter is a field interceptor that counts the fields it sees, by
// Object.field.
type fieldCounter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (*fieldCounter) ExtensionName() string                   { return "fieldCounter" }
func (*fieldCounter) Validate(graphql.ExecutableSchema) error { return nil }
func (c *fieldCounter) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	c.mu.Lock()
	c.seen[fc.Object+"."+fc.Field.Name]++
	c.mu.Unlock()
	return next(ctx)
}

// Plain scalar fields (graph/codegen's plainFieldPaths) skip
// graphql.ResolveField only where no field interceptor is installed: with
// one, it sees every such field as before; both paths answer the same
// bytes. __Field.name, __InputValue.name and __Directive.isRepeatable are
// such fields (introspection needs no files service).
func TestPlainFieldsSeenByInterceptors(t *testing.T) {
	const q = `{ __type(name: "File") { fields { name args { name } } } __schema { directives { name isRepeatable } } }`
	limits := Limits{Introspection: true, MaxDepth: 12, MaxComplexity: 5000}
	c := &fieldCounter{seen: map[string]int{}}
	intercepted := send(t, NewHandler(nil, limits, nil, c), "POST", q, nil)
	plain := send(t, NewHandler(nil, limits, nil), "POST", q, nil)
	if len(intercepted.Errors) > 0 || len(plain.Errors) > 0 {
		t.Fatalf("errors: %+v, %+v", intercepted.Errors, plain.Errors)
	}
	if string(intercepted.Data) != string(plain.Data) {
		t.Errorf("the paths answer differently:\n%s\n%s", intercepted.Data, plain.Data)
	}
	fields := len(NewSchema(nil, nil).Schema().Types["File"].Fields)
	directives := len(NewSchema(nil, nil).Schema().Directives)
	if c.seen["__Field.name"] != fields || c.seen["__Directive.name"] != directives || c.seen["__Directive.isRepeatable"] != directives {
		t.Errorf("the interceptor saw %d __Field.name, %d __Directive.name, %d __Directive.isRepeatable; want %d, %d, %d",
			c.seen["__Field.name"], c.seen["__Directive.name"], c.seen["__Directive.isRepeatable"], fields, directives, directives)
	}
}
