// Builds the demo app (index.html, uppy.html) into the Go package that
// embeds it, so the binary serves it at /app/. `npm run dev` serves it with
// hot reload and forwards the API to `make run`'s server.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/app/',
  build: {
    outDir: '../internal/webapp/dist/app',
    emptyOutDir: true,
    rollupOptions: { input: { main: 'index.html', uppy: 'uppy.html' } },
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: { '/query': 'http://127.0.0.1:8080', '/storage': 'http://127.0.0.1:8080' },
  },
});
