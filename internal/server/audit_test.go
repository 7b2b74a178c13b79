package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGraphQLOverHTTPAudit runs graphql-http's server audit, the reference
// check of the GraphQL over HTTP spec, against the real handler: every MUST
// and every SHOULD. `make test` installs it (npm ci in scripts/audit).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	dir := filepath.Join("..", "..", "scripts", "audit")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-http")); err != nil {
		t.Fatal("graphql-http is not installed; run `make test`, or `npm ci --prefix scripts/audit`")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed; the audit needs Node.js 18 or later")
	}
	e := newEnv(t, "sqlite+disk")
	out, err := exec.Command(node, filepath.Join(dir, "audit.mjs"), e.URL+"/query").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("audit failed: %v", err)
	}
}
