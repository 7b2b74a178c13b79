// Command codegen is `gqlgen generate` for this repository (go generate
// runs it), with one step gqlgen has no option for: a list whose elements
// resolve nothing is marshalled in order, without a goroutine per element.
//
// gqlgen marshals every list of objects or enums through
// graphql.MarshalSliceConcurrently, which starts a goroutine per element.
// That pays when elements wait on resolvers; for plain data, like the 50
// edges of a files page, the goroutines and their growing stacks cost more
// than the marshalling (a fifth of the page's CPU). An opt-out was merged
// upstream and reverted (99designs/gqlgen#3203, #3287), and the template
// that writes those calls cannot be replaced. So a plugin reads gqlgen's
// own model of the code (codegen.Data) for the lists below which no field
// has a resolver, a context-taking method or a directive, and once gqlgen
// has written the code, those lists' calls go to graph's marshalInOrder,
// which keeps MarshalSliceConcurrently's signature and contract.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("loading gqlgen.yml: %v", err)
	}
	plain := &plainLists{}
	if err := api.Generate(cfg, api.AddPlugin(plain)); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	if err := marshalInOrder(cfg.Exec.Filename, plain.funcs); err != nil {
		log.Fatal(err)
	}
	if err := noDeferredGroups(cfg.Exec.Filename); err != nil {
		log.Fatal(err)
	}
	if err := plainFieldPaths(cfg.Exec.Filename); err != nil {
		log.Fatal(err)
	}
}

// plainLists is the gqlgen plugin that finds the lists to marshal in order.
type plainLists struct {
	funcs map[string]bool // the generated marshal functions of those lists
}

func (*plainLists) Name() string { return "plainlists" }

// inMemory are the objects whose resolvers only compute from the object,
// in memory (File.url: a base URL and the key; File.downloadUrl: a
// presigned GET is a signature made here, not a call; UploadURL.headers and
// UploadPart.headers: the presigned request's headers as a list): they run
// on the caller's goroutine, as a mutation's fields do, so a page of files
// or a batch of upload URLs stays a plain list. A resolver that waits on
// I/O must not be added to them.
var inMemory = []string{"File", "UploadURL", "UploadPart"}

func (p *plainLists) GenerateCode(data *codegen.Data) error {
	for _, name := range inMemory {
		obj := data.Objects.ByName(name)
		if obj == nil {
			return fmt.Errorf("graph/codegen: no object %s to resolve in memory", name)
		}
		obj.DisableConcurrency = true
	}
	p.funcs = map[string]bool{}
	for _, t := range data.ReferencedTypes {
		if t.IsSlice() && !t.IsScalar() && plain(data, t.Definition, map[string]bool{}) {
			p.funcs[t.MarshalFunc()] = true
		}
	}
	return nil
}

// plain reports whether marshalling a value of def runs only generated
// code: no resolver, no method taking a context, no directive, at any depth.
func plain(data *codegen.Data, def *gqlast.Definition, seen map[string]bool) bool {
	if seen[def.Name] {
		return true // being checked further up
	}
	seen[def.Name] = true
	switch def.Kind {
	case gqlast.Scalar, gqlast.Enum:
		return true
	case gqlast.Object:
		obj := data.Objects.ByName(def.Name)
		if obj == nil {
			return false
		}
		for _, f := range obj.Fields {
			if f.IsConcurrent() || f.HasDirectives() || !plain(data, f.TypeReference.Definition, seen) {
				return false
			}
		}
		return true
	case gqlast.Interface, gqlast.Union:
		for _, impl := range data.Schema.GetPossibleTypes(def) {
			if !plain(data, impl, seen) {
				return false
			}
		}
		return true
	}
	return false
}

// marshalInOrder rewrites, in the generated file, the named functions'
// calls to graphql.MarshalSliceConcurrently into calls to marshalInOrder.
func marshalInOrder(filename string, funcs map[string]bool) error {
	src, err := os.ReadFile(filename)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, 0)
	if err != nil {
		return err
	}
	var calls []int // offsets of the selector expressions to replace
	found := map[string]bool{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || !funcs[fn.Name.Name] {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "MarshalSliceConcurrently" {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "graphql" {
					calls = append(calls, fset.Position(sel.Pos()).Offset)
					found[fn.Name.Name] = true
				}
			}
			return true
		})
	}
	for name := range funcs {
		if !found[name] {
			return fmt.Errorf("%s: %s marshals no list through graphql.MarshalSliceConcurrently: gqlgen's output changed, so graph/codegen must too", filename, name)
		}
	}
	const from, to = "graphql.MarshalSliceConcurrently", "marshalInOrder"
	var out bytes.Buffer
	last := 0
	for _, off := range calls {
		out.Write(src[last:off])
		out.WriteString(to)
		last = off + len(from)
	}
	out.Write(src[last:])
	return os.WriteFile(filename, out.Bytes(), 0o644)
}

// newDeferredGroup is the statement gqlgen writes at the top of every
// object's marshal function, and noDeferredGroup what replaces it where
// nothing can be deferred.
const (
	newDeferredGroup = "deferred := graphql.NewDeferredGroup(ctx)"
	noDeferredGroup  = "var deferred graphql.DeferredGroup"
)

// noDeferredGroups rewrites, in the generated file, the deferred group of
// every object marshal function that never passes it on (&deferred: only
// ResolveConcurrently defers a field) into an empty one. Such a group is
// only asked for its length, which stays 0, but NewDeferredGroup builds the
// field's path and makes a field set and a map for it, for every object
// marshalled: 663 of the 8,170 allocations of a 50-file page.
func noDeferredGroups(filename string) error {
	src, err := os.ReadFile(filename)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, 0)
	if err != nil {
		return err
	}
	var stmts []int // offsets of the statements to replace
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		at, passed := -1, false
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if len(n.Lhs) == 1 && isIdent(n.Lhs[0], "deferred") && len(n.Rhs) == 1 {
					if call, ok := n.Rhs[0].(*ast.CallExpr); ok {
						if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewDeferredGroup" {
							at = fset.Position(n.Pos()).Offset
						}
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.AND && isIdent(n.X, "deferred") {
					passed = true
				}
			}
			return true
		})
		if at >= 0 && !passed {
			if string(src[at:at+len(newDeferredGroup)]) != newDeferredGroup {
				return fmt.Errorf("%s: %s makes its deferred group otherwise than %q: gqlgen's output changed, so graph/codegen must too", filename, fn.Name.Name, newDeferredGroup)
			}
			stmts = append(stmts, at)
		}
	}
	if len(stmts) == 0 {
		return fmt.Errorf("%s: no function makes a deferred group it keeps: gqlgen's output changed, so graph/codegen must too", filename)
	}
	var out bytes.Buffer
	last := 0
	for _, off := range stmts {
		out.Write(src[last:off])
		out.WriteString(noDeferredGroup)
		last = off + len(newDeferredGroup)
	}
	out.Write(src[last:])
	return os.WriteFile(filename, out.Bytes(), 0o644)
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// neverPanic are the scalar marshallers a plain field's fast path may
// call: they write any value of their Go type without panicking, so the
// fast path needs no recover of its own.
var neverPanic = map[string]bool{
	"graphql.MarshalString":  true,
	"graphql.MarshalBoolean": true,
	"graphql.MarshalInt":     true,
	"graphql.MarshalInt32":   true,
	"graphql.MarshalInt64":   true,
	"graphql.MarshalID":      true,
	"scalar.MarshalUUID":     true,
	"scalar.MarshalInt":      true,
	"scalar.MarshalInt64":    true,
	"scalar.MarshalTime":     true,
}

// plainFieldPaths gives every field that reads a non-null scalar straight
// from its object (gqlgen's graphql.ResolveField of `return obj.F, nil`,
// no directive, a generated marshalN of one of neverPanic) a path around
// graphql.ResolveField, taken while ec.plainFields() (no field
// interceptor is installed, so ResolveField's middleware call is the
// identity): the value is marshalled at once, without the field context,
// its context.WithValue, the closures and the boxing into any that
// ResolveField makes for each field of each object, about 7 allocations
// a field (a 50-file page of 7 fields: 2,450 of its ~7,500). A value the
// marshaller answers Null for (a zero time) takes the full path, which
// reports it with the field's path as before.
func plainFieldPaths(filename string) error {
	src, err := os.ReadFile(filename)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, 0)
	if err != nil {
		return err
	}
	text := func(n ast.Node) string {
		return string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
	}
	// The generated marshalN functions of scalars, by name, and what they call.
	marshallers := map[string]string{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Body.List) != 4 {
			continue
		}
		as, ok := fn.Body.List[1].(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || !isIdent(as.Lhs[0], "res") || len(as.Rhs) != 1 {
			continue
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok || len(call.Args) != 1 || !isIdent(call.Args[0], "v") {
			continue
		}
		if name := text(call.Fun); neverPanic[name] {
			marshallers[fn.Name.Name] = name
		}
	}
	type insert struct {
		at   int
		text string
	}
	var inserts []insert
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Body.List) != 1 {
			continue
		}
		ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			continue
		}
		call, ok := ret.Results[0].(*ast.CallExpr)
		if !ok || text(call.Fun) != "graphql.ResolveField" || len(call.Args) != 9 {
			continue
		}
		// The resolver reads a field of obj; no directive (middleware nil);
		// recover and non-null as gqlgen writes them for such a field.
		read := onlyReturn(call.Args[4])
		if read == nil || len(read.Results) != 2 || !isIdent(read.Results[1], "nil") {
			continue
		}
		sel, ok := read.Results[0].(*ast.SelectorExpr)
		if !ok || !isIdent(sel.X, "obj") || !isIdent(call.Args[5], "nil") || !isIdent(call.Args[7], "true") || !isIdent(call.Args[8], "true") {
			continue
		}
		m := onlyReturn(call.Args[6])
		if m == nil || len(m.Results) != 1 {
			continue
		}
		mcall, ok := m.Results[0].(*ast.CallExpr)
		if !ok {
			continue
		}
		msel, ok := mcall.Fun.(*ast.SelectorExpr)
		if !ok || !isIdent(msel.X, "ec") {
			continue
		}
		prim, ok := marshallers[msel.Sel.Name]
		if !ok {
			continue
		}
		inserts = append(inserts, insert{
			at:   fset.Position(fn.Body.Lbrace).Offset + 1,
			text: fmt.Sprintf("\n\tif ec.plainFields() {\n\t\tif res := %s(%s); res != graphql.Null {\n\t\t\treturn res\n\t\t}\n\t}", prim, text(sel)),
		})
	}
	if len(inserts) == 0 {
		return fmt.Errorf("%s: no field reads a scalar from its object through graphql.ResolveField: gqlgen's output changed, so graph/codegen must too", filename)
	}
	var out bytes.Buffer
	last := 0
	for _, in := range inserts {
		out.Write(src[last:in.at])
		out.WriteString(in.text)
		last = in.at
	}
	out.Write(src[last:])
	return os.WriteFile(filename, out.Bytes(), 0o644)
}

// onlyReturn is the return statement of a function literal made of one.
func onlyReturn(e ast.Expr) *ast.ReturnStmt {
	lit, ok := e.(*ast.FuncLit)
	if !ok || len(lit.Body.List) != 1 {
		return nil
	}
	ret, _ := lit.Body.List[0].(*ast.ReturnStmt)
	return ret
}
