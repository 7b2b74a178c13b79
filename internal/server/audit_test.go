package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	// Bounded: an audit request the server never answers fails the test
	// instead of holding the package until go test's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "audit.mjs"), e.URL+"/query")
	cmd.WaitDelay = time.Second // and its output is not waited for past the kill
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("audit failed: %v", err)
	}
}
