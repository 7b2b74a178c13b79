package server

import (
	"fmt"
	"os"
	"strings"
	"testing"
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

// multipartPage returns testdata/multipart.html with the README's
// large-file example (the js block that starts with "async function
// uploadLarge(") in place of its marker.
func multipartPage() ([]byte, error) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		return nil, err
	}
	const start = "async function uploadLarge("
	_, rest, ok := strings.Cut(string(readme), "```js\n"+start)
	if !ok {
		return nil, fmt.Errorf("README.md has no js block starting with %s", start)
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		return nil, fmt.Errorf("README.md: the large-file example's block does not end")
	}
	page, err := os.ReadFile("testdata/multipart.html")
	if err != nil {
		return nil, err
	}
	const marker = "/* README large-file example */"
	if strings.Count(string(page), marker) != 1 {
		return nil, fmt.Errorf("testdata/multipart.html must hold %q once", marker)
	}
	return []byte(strings.Replace(string(page), marker, start+example, 1)), nil
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
