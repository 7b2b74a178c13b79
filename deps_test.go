package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The server links none of the code generators and none of Atlas's schema
// inspectors: only go generate and make migration use them. Linked, they
// cost megabytes of resident memory at every start (their code, and their
// package initialisation: entgql alone parsed its templates into 1 MB).
func TestServerLinksNoGenerators(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"entgo.io/contrib/entgql",         // ent/entgql holds the run-time types the server uses
		"entgo.io/ent/entc",               // ent's generator
		"entgo.io/ent/dialect/sql/schema", // ent's schema differ (ent's Migrate feature is off)
		"github.com/99designs/gqlgen/api",
		"github.com/99designs/gqlgen/codegen",
		"github.com/99designs/gqlgen/plugin",
		"golang.org/x/tools",
		"go/types",
		"github.com/hashicorp/hcl/v2", // Atlas's dialect drivers bring it
	}
	// Atlas's executor applies the migrations (internal/database).
	allowed := map[string]bool{"ariga.io/atlas/sql/migrate": true, "ariga.io/atlas/sql/schema": true}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps . listed %d packages:\n%s", len(deps), out)
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "ariga.io/atlas/") && !allowed[p] {
			t.Errorf("the server links %s", p)
		}
		if p == "github.com/99designs/gqlgen/plugin/federation/fedruntime" {
			continue // federation's run-time types, which the generated code calls
		}
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, f+"/") {
				t.Errorf("the server links %s", p)
			}
		}
	}
}

// The rules (internal/files) know no SQL dialect, no HTTP and no settings:
// the usage statements and the drivers' error codes are internal/database's,
// which marks its errors for the rules to branch on, and internal/server
// maps the configuration onto files.Options.
func TestRulesKnowNoSQL(t *testing.T) {
	const pkg = "./internal/files"
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) < 10 {
		t.Fatalf("go list %s listed %d imports:\n%s", pkg, len(imports), out)
	}
	for _, p := range imports {
		switch p {
		case "github.com/filegraph/filegraph/internal/config", "github.com/filegraph/filegraph/internal/database",
			"database/sql", "net/http":
			t.Errorf("internal/files imports %s", p)
		}
	}
	out, err = exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, f := range []string{"github.com/filegraph/filegraph/internal/database", "github.com/lib/pq", "modernc.org/sqlite"} {
			if p == f || strings.HasPrefix(p, f+"/") {
				t.Errorf("internal/files links %s", p)
			}
		}
	}
}
