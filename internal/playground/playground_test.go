package playground

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestWithoutAssets(t *testing.T) {
	h := handler(Config{Endpoint: "/query"}, fstest.MapFS{"assets/README.md": {Data: []byte("x")}})
	code, body := get(t, h, "/")
	if code != 200 || !strings.Contains(body, "make build") || !strings.Contains(body, "/query") {
		t.Errorf("page without assets: %d %s", code, body)
	}
	if code, _ := get(t, h, "/playground/graphiql.js"); code != 404 {
		t.Errorf("asset without assets: %d", code)
	}
}

func TestWithAssets(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, name := range vendored {
		fsys["assets/"+name] = &fstest.MapFile{Data: []byte("/* " + name + " */")}
	}
	for _, auth := range []bool{false, true} {
		h := handler(Config{Endpoint: "/query", Auth: auth}, fsys)
		code, body := get(t, h, "/")
		want := map[bool]string{false: `data-auth="false"`, true: `data-auth="true"`}[auth]
		if code != 200 || !strings.Contains(body, `data-endpoint="/query"`) || !strings.Contains(body, want) {
			t.Errorf("auth %v: %d %s", auth, code, body)
		}
	}
	h := handler(Config{Endpoint: "/query"}, fsys)
	for _, name := range append([]string{"boot.js"}, vendored...) {
		if code, body := get(t, h, "/playground/"+name); code != 200 || body == "" {
			t.Errorf("%s: %d", name, code)
		}
	}
}
