package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A bad collections file stops the real binary at start, exit status 1,
// with a message that calls it a configuration problem and names the
// setting, the file, the collection, the field and what is wrong.
func TestBadCollectionsFileStopsTheBinary(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "collections.yaml")
	body := "collections:\n  avatars:\n    public: true\n    maxFileSize: 6GiB\n  documents:\n    allowedContentType: [application/pdf]\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "COLLECTIONS_FILE="+file, "DATA_DIR="+dir, "ADDR=127.0.0.1:0", "METRICS_ADDR=off")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	for _, want := range []string{
		"filegraph: configuration: COLLECTIONS_FILE: " + file + `: collection "avatars": field maxFileSize (line 4): 6GiB (6442450944 bytes) is over MAX_UPLOAD_SIZE (5368709120 bytes): a collection can only lower it`,
		"COLLECTIONS_FILE: " + file + `: collection "documents": field allowedContentType (line 6): unknown field; a collection has allowedContentTypes, maxFileSize, maxFilesPerRequest, public`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output\n%s\nsays nothing like\n%s", out, want)
		}
	}
	if strings.Contains(string(out), "server.listening") {
		t.Errorf("the server started:\n%s", out)
	}
}
