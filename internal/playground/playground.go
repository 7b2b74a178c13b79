// Package playground serves GraphiQL from the binary itself, so the
// playground works without internet. Its browser files (GraphiQL's and
// React's UMD builds) come from npm at build time into assets/; a binary
// built without them serves a page saying how to get them.
package playground

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed assets
var embedded embed.FS

// Files GraphiQL needs besides boot.js, in load order.
var vendored = []string{"react.js", "react-dom.js", "graphiql.js", "graphiql.css"}

//go:embed boot.js
var boot []byte

// Config says what the page opens with.
type Config struct {
	Endpoint string // the GraphQL endpoint, e.g. /query
	// Auth shows the header editor with an Authorization header to fill in.
	Auth bool
}

// Handler serves the page at "/" and its files under "/playground/".
func Handler(cfg Config) http.Handler {
	return handler(cfg, embedded)
}

// Built reports whether the GraphiQL files are in this binary.
func Built() bool { return built(embedded) }

func built(fsys fs.FS) bool {
	for _, name := range vendored {
		if _, err := fs.Stat(fsys, "assets/"+name); err != nil {
			return false
		}
	}
	return true
}

func handler(cfg Config, fsys fs.FS) http.Handler {
	mux := http.NewServeMux()
	if !built(fsys) {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'")
			w.Write(missingPage)
		})
		return mux
	}
	assets, _ := fs.Sub(fsys, "assets")
	files := http.FileServerFS(assets)
	mux.HandleFunc("GET /playground/boot.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(boot)
	})
	mux.Handle("GET /playground/", http.StripPrefix("/playground/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// Everything the page loads is ours; GraphiQL sets inline styles
		// and embeds its fonts and icons as data: URLs.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		page.Execute(w, cfg)
	})
	return mux
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Filegraph playground</title>
<link rel="stylesheet" href="/playground/graphiql.css">
<style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}" data-auth="{{.Auth}}">Loading the playground…</div>
<script src="/playground/react.js"></script>
<script src="/playground/react-dom.js"></script>
<script src="/playground/graphiql.js"></script>
<script src="/playground/boot.js"></script>
</body>
</html>
`))

var missingPage = []byte(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Filegraph</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.5">
<h1>Filegraph</h1>
<p>The API is at <code>/query</code>.</p>
<p>This binary was built without the GraphQL playground's files. They come from
npm at build time: build with <code>make build</code> or run with <code>make run</code>
(both run <code>make playground-assets</code>, which needs Node.js and npm), or use
the Docker image.</p>
</body>
</html>
`)
