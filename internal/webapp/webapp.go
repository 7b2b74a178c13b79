// Package webapp serves the demo app (web/, built by vite into dist/app at
// build time, not committed) at /app/. A binary built without it serves no
// /app/.
package webapp

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dist
var embedded embed.FS

// Handler serves the app under /app/, or nil when this binary has no build of it.
func Handler() http.Handler {
	app, err := fs.Sub(embedded, "dist/app")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(app, "index.html"); err != nil {
		return nil
	}
	files := http.FileServerFS(app)
	return http.StripPrefix("/app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Scripts only from here; the app talks to the API and the storage,
		// which may be another origin.
		w.Header().Set("Content-Security-Policy", "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}
