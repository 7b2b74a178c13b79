package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// readmeAPIURL is where the README's client example sends its requests;
// the browser test points it at the server under test.
const readmeAPIURL = `"http://127.0.0.1:8080/query"`

// browserPage returns testdata/browser.html with the README's client
// example (the js block that starts with "// getToken:") in place of its
// marker, calling api instead of readmeAPIURL. So the browser test runs the
// README's code itself, not a copy that could drift from it.
func browserPage(api string) ([]byte, error) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		return nil, err
	}
	_, rest, ok := strings.Cut(string(readme), "```js\n// getToken:")
	if !ok {
		return nil, fmt.Errorf("README.md has no js block starting with // getToken:")
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		return nil, fmt.Errorf("README.md: the client example's block does not end")
	}
	if strings.Count(example, readmeAPIURL) != 1 {
		return nil, fmt.Errorf("README.md: the client example must send to %s exactly once", readmeAPIURL)
	}
	example = "// getToken:" + strings.Replace(example, readmeAPIURL, api, 1)
	page, err := os.ReadFile("testdata/browser.html")
	if err != nil {
		return nil, err
	}
	const marker = "/* README client example */"
	if strings.Count(string(page), marker) != 1 {
		return nil, fmt.Errorf("testdata/browser.html must hold %q once", marker)
	}
	return []byte(strings.Replace(string(page), marker, example, 1)), nil
}

// TestBrowserPageRunsREADMEExample: the page the browser test loads is
// built from the README's example, which defines what the page calls.
func TestBrowserPageRunsREADMEExample(t *testing.T) {
	page, err := browserPage("API")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"async function upload(file)", "async function downloadLink(id)", "const api = async", "fetch(API,"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page built from the README lacks %q", want)
		}
	}
}

// uploadLargeStart opens the README's large-file example.
const uploadLargeStart = "async function uploadLarge("

// readmeUploadLarge returns the README's large-file example: the js block
// that starts with uploadLargeStart, up to the block's end.
func readmeUploadLarge() (string, error) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(string(readme), "```js\n"+uploadLargeStart)
	if !ok {
		return "", fmt.Errorf("README.md has no js block starting with %s", uploadLargeStart)
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		return "", fmt.Errorf("README.md: the large-file example's block does not end")
	}
	return uploadLargeStart + example, nil
}

// multipartPage returns testdata/multipart.html with the README's
// large-file example in place of its marker.
func multipartPage() ([]byte, error) {
	example, err := readmeUploadLarge()
	if err != nil {
		return nil, err
	}
	page, err := os.ReadFile("testdata/multipart.html")
	if err != nil {
		return nil, err
	}
	const marker = "/* README large-file example */"
	if strings.Count(string(page), marker) != 1 {
		return nil, fmt.Errorf("testdata/multipart.html must hold %q once", marker)
	}
	return []byte(strings.Replace(string(page), marker, example, 1)), nil
}

// TestMultipartPageRunsREADMEExample: the page of the browser test for
// uploads in parts resumes with the README's uploadLarge.
func TestMultipartPageRunsREADMEExample(t *testing.T) {
	page, err := multipartPage()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"async function uploadLarge(file, { parallel = 4, resume } = {})", "uploadLarge(new File([blob], NAME), { resume: m })", "partChecksums: true"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page built from the README lacks %q", want)
		}
	}
}

// TestREADMEUploadLargeResendsWrongSizedPart runs the README's uploadLarge
// in Node on an upload whose part 2 the store holds at another size than
// its own (put there through the store, as no URL the server signs allows):
// resuming must send that part again and save, not count it as stored and
// have saveFiles refuse the upload. Both backends.
func TestREADMEUploadLargeResendsWrongSizedPart(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed")
	}
	example, err := readmeUploadLarge()
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB")
			body := randomBytes(2*5*mib + 1234)
			m := e.createMultipart(map[string]any{"originalName": "big.bin", "size": len(body), "partChecksums": true})[0]
			if m.PartCount != 3 {
				t.Fatalf("%d parts, want 3", m.PartCount)
			}
			e.putParts(m, body, true, 1)
			wrong := randomBytes(1000)
			h := sha256.Sum256(wrong)
			ctx := context.Background()
			req, err := e.store.PresignPart(ctx, m.FileName, e.multipartID(m.FileName), storage.PartOptions{
				Number: 2, Size: int64(len(wrong)), ChecksumSHA256: base64.StdEncoding.EncodeToString(h[:]), TTL: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := storagetest.SendErr(req, wrong); err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "big.bin"), body, 0o600); err != nil {
				t.Fatal(err)
			}
			resume, _ := json.Marshal(map[string]any{"fileName": m.FileName, "partSize": m.PartSize, "partCount": m.PartCount})
			script := fmt.Sprintf(`import { readFileSync } from "node:fs";
const api = async (query, variables) => {
  const res = await fetch(%q, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const r = await res.json();
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
};
%s
const file = new File([readFileSync(%q)], "big.bin");
const saved = await uploadLarge(file, { resume: %s });
console.log(JSON.stringify(saved));
`, e.URL+"/query", example, filepath.Join(dir, "big.bin"), resume)
			if err := os.WriteFile(filepath.Join(dir, "run.mjs"), []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			run, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(run, node, filepath.Join(dir, "run.mjs"))
			cmd.WaitDelay = time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("uploadLarge: %v\n%s", err, out)
			}
			var saved struct {
				ID   string
				Size int64
			}
			if err := json.Unmarshal(bytes.TrimSpace(out), &saved); err != nil {
				t.Fatalf("uploadLarge printed %q: %v", out, err)
			}
			if saved.Size != int64(len(body)) {
				t.Errorf("saved %d bytes, want %d", saved.Size, len(body))
			}
			if got := e.download(saved.ID); !bytes.Equal(got, body) {
				t.Errorf("the download (%d bytes) differs from the file", len(got))
			}
		})
	}
}
