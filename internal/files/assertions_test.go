package files

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// The rules reach every storage ability through storage.Store, which the
// backends implement whole (compile-time checks in each): a type assertion
// on the store could only find an ability missing at run time, or panic.
// Any other type assertion here takes the two-value form.
func TestNoPanickingTypeAssertions(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	parsed := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed++
		checked := map[*ast.TypeAssertExpr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if len(n.Lhs) == 2 && len(n.Rhs) == 1 {
					if a, ok := n.Rhs[0].(*ast.TypeAssertExpr); ok {
						checked[a] = true
					}
				}
			case *ast.ValueSpec:
				if len(n.Names) == 2 && len(n.Values) == 1 {
					if a, ok := n.Values[0].(*ast.TypeAssertExpr); ok {
						checked[a] = true
					}
				}
			case *ast.TypeAssertExpr:
				if n.Type == nil {
					return true // a type switch
				}
				if sel, ok := n.Type.(*ast.SelectorExpr); ok {
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "storage" {
						t.Errorf("%s: asserts storage.%s: call it on storage.Store", fset.Position(n.Pos()), sel.Sel.Name)
					}
				}
				if !checked[n] {
					t.Errorf("%s: a type assertion without its ok can panic", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if parsed < 10 {
		t.Fatalf("parsed %d files of internal/files", parsed)
	}
}
