package graph

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/filegraph/filegraph/ent/entgql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

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
	CodeComplexityLimit  = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
)

// judge refuses operations nested deeper than maxDepth, costing more than
// maxComplexity or, unless allowed, asking for introspection (__schema,
// __type; __typename stays, clients rely on it). Introspection fields are
// not counted towards the depth: the standard introspection query is deep
// by nature.
//
// Before validation it counts the selections written in the document and
// refuses more than MaxSelections: gqlparser's check that overlapping
// fields can be merged compares fields pairwise (1,000 fields named alike
// take 0.1 s, 14,000 take 10 s), so the count is what bounds validation.
//
// After validation, all three limits come from one walk that prices each fragment once (a fragment
// spread twice in each of n chained fragments is 2^n selections when
// followed naively), so judging costs time linear in the document. It is
// the first operation-context extension: nothing else looks at an
// operation before it is judged, and only what it accepts is cached.
type judge struct {
	es            graphql.ExecutableSchema
	docs          graphql.Cache[*ast.QueryDocument] // accepted documents
	maxDepth      int
	maxComplexity int
	introspection bool
}

var (
	_ graphql.HandlerExtension          = (*judge)(nil)
	_ graphql.OperationParameterMutator = (*judge)(nil)
	_ graphql.OperationContextMutator   = (*judge)(nil)
)

// MaxSelections bounds the fields, fragment spreads and inline fragments
// one document may write: validation costs up to its square (0.02 s of CPU
// at 500). The introspection query writes about 90.
const MaxSelections = 500

func (*judge) ExtensionName() string { return "Judge" }

func (j *judge) Validate(es graphql.ExecutableSchema) error {
	if j.maxDepth < 1 || j.maxComplexity < 1 {
		return errors.New("judge: depth and complexity limits must be positive")
	}
	j.es = es
	return nil
}

// MutateOperationParameters runs before the document is parsed and
// validated (and after a persisted query is looked up). A document the
// cache holds was accepted before; any other is parsed here once more, as
// gqlgen is about to, to count its selections. A document that does not
// parse is left for gqlgen to refuse.
func (j *judge) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, ok := j.docs.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, MaxTokens)
	if err != nil {
		return nil
	}
	if n := selections(doc); n > MaxSelections {
		err := gqlerror.Errorf("document has %d selections (fields and fragments as written), over the limit of %d", n, MaxSelections)
		errcode.Set(err, CodeComplexityLimit)
		return err
	}
	return nil
}

// selections counts the selections written in doc, spreads not followed.
func selections(doc *ast.QueryDocument) int {
	var count func(ast.SelectionSet) int
	count = func(set ast.SelectionSet) int {
		n := len(set)
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				n += count(s.SelectionSet)
			case *ast.InlineFragment:
				n += count(s.SelectionSet)
			}
		}
		return n
	}
	n := 0
	for _, op := range doc.Operations {
		n += count(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += count(f.SelectionSet)
	}
	return n
}

func (j *judge) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	v, _ := assess(ctx, j.es, oc.Operation, oc.Variables)
	// Read by gqlgen's GetComplexityStats, as if its own extension ran.
	oc.Stats.SetExtension("ComplexityLimit", &extension.ComplexityStats{Complexity: v.complexity, ComplexityLimit: j.maxComplexity})
	switch {
	case !j.introspection && v.introspects:
		err := gqlerror.Errorf("introspection is disabled on this server")
		errcode.Set(err, CodeValidationFailed)
		return err
	case v.depth > j.maxDepth:
		err := gqlerror.Errorf("operation is nested %d levels deep, over the limit of %d", v.depth, j.maxDepth)
		errcode.Set(err, CodeDepthLimit)
		return err
	case v.complexity > j.maxComplexity:
		// gqlgen's own wording and code, which clients may already match.
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", v.complexity, j.maxComplexity)
		errcode.Set(err, CodeComplexityLimit)
		return err
	}
	if v.service {
		// A router composes the supergraph from _service's SDL, which holds
		// what schema.graphql does and federation's few additions: it
		// answers with introspection off. gqlgen gates it with __schema
		// and __type, which the judge has refused above when off.
		oc.DisableIntrospection = false
	}
	admit(oc)
	return nil
}

// verdict is what the judge learns of a selection set.
type verdict struct {
	depth       int  // deepest field below it, introspection fields not counted
	complexity  int  // gqlgen's complexity, saturating at math.MaxInt
	introspects bool // its top level asks for __schema or __type
	service     bool // it asks for _service (federation's SDL)
}

func (v *verdict) add(o verdict) {
	v.depth = max(v.depth, o.depth)
	v.complexity = satAdd(v.complexity, o.complexity)
	v.introspects = v.introspects || o.introspects
	v.service = v.service || o.service
}

// assess judges op and returns how many selections it visited, which is
// at most the number of selections written in the document.
func assess(ctx context.Context, es graphql.ExecutableSchema, op *ast.OperationDefinition, vars map[string]any) (verdict, int) {
	w := walker{ctx: ctx, es: es, schema: es.Schema(), vars: vars}
	v := w.set(op.SelectionSet)
	return v, w.steps
}

type walker struct {
	ctx    context.Context
	es     graphql.ExecutableSchema
	schema *ast.Schema
	vars   map[string]any
	// fragments holds each fragment's verdict once it is known; nil while
	// it is being walked (validation refuses cycles; this is the backstop).
	fragments map[string]*verdict
	steps     int
}

func (w *walker) set(set ast.SelectionSet) verdict {
	var v verdict
	for _, sel := range set {
		w.steps++
		switch s := sel.(type) {
		case *ast.Field:
			v.add(w.field(s))
		case *ast.InlineFragment:
			v.add(w.set(s.SelectionSet))
		case *ast.FragmentSpread:
			v.add(w.spread(s))
		}
	}
	return v
}

func (w *walker) spread(s *ast.FragmentSpread) verdict {
	if s.Definition == nil {
		return verdict{}
	}
	if v, seen := w.fragments[s.Name]; seen {
		if v == nil {
			return verdict{}
		}
		return *v
	}
	if w.fragments == nil { // made at the first spread: most operations have none
		w.fragments = map[string]*verdict{}
	}
	w.fragments[s.Name] = nil
	v := w.set(s.Definition.SelectionSet)
	w.fragments[s.Name] = &v
	return v
}

// field prices f as gqlgen's complexity.Calculate does, with the schema's
// complexity functions.
func (w *walker) field(f *ast.Field) verdict {
	child := w.set(f.SelectionSet)
	v := verdict{introspects: f.Name == "__schema" || f.Name == "__type", service: f.Name == "_service"}
	if !strings.HasPrefix(f.Name, "__") {
		v.depth = 1 + child.depth
	}
	if f.Definition == nil || f.ObjectDefinition == nil {
		v.complexity = satAdd(1, child.complexity)
		return v
	}
	typ := w.schema.Types[f.Definition.Type.Name()]
	if typ == nil || typ.Name == "__Schema" {
		return v
	}
	childComplexity := 0
	switch typ.Kind {
	case ast.Object, ast.Interface, ast.Union:
		childComplexity = child.complexity
	}
	// A field that takes no arguments has none to price by: no map (it
	// was an empty one per field of every operation).
	var args map[string]any
	if len(f.Definition.Arguments) > 0 {
		args = f.ArgumentMap(w.vars)
	}
	if f.ObjectDefinition.Kind == ast.Interface {
		// Price the field as its costliest implementation.
		for _, t := range w.schema.GetPossibleTypes(f.ObjectDefinition) {
			v.complexity = max(v.complexity, w.price(t.Name, f.Name, childComplexity, args))
		}
	} else {
		v.complexity = w.price(f.ObjectDefinition.Name, f.Name, childComplexity, args)
	}
	return v
}

func (w *walker) price(typ, field string, child int, args map[string]any) int {
	if c, ok := w.es.Complexity(w.ctx, typ, field, child, args); ok && c >= 1 {
		return c
	}
	return satAdd(1, child)
}

// satAdd adds non-negative complexities without overflowing.
func satAdd(a, b int) int {
	a, b = max(a, 0), max(b, 0)
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// satMul multiplies non-negative complexities without overflowing.
func satMul(a, b int) int {
	a, b = max(a, 0), max(b, 0)
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// complexity prices lists by how many items they ask for, so that the
// complexity limit bounds the rows and objects one request can touch.
func complexity(c *ComplexityRoot) {
	items := func(child, n int) int { return satAdd(1, satMul(child, min(max(n, 1), 1<<20))) }
	c.Query.Files = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.FileOrder, _ *ent.FileWhereInput) int {
		n := files.MaxPageSize
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return items(child, n)
	}
	c.Query.Folders = func(child int, _, _ *string) int { return items(child, files.MaxFoldersPerCall) }
	c.Mutation.DeleteFiles = func(child int, ids []uuid.UUID) int { return items(child, len(ids)) }
	c.Query.Nodes = func(child int, ids []uuid.UUID) int { return items(child, len(ids)) }
	// A supergraph's references: each representation is a File asked for.
	c.Query.__resolve_entities = func(child int, reps []map[string]any) int { return items(child, len(reps)) }
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
