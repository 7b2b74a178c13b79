#!/bin/sh
# Copies GraphiQL and React's browser builds from web/node_modules (npm ci)
# into the files the binary embeds (internal/playground/assets). Run by
# `make playground-assets` and the Dockerfile; the copies are not committed.
set -eu
cd "$(dirname "$0")/.."
src=web/node_modules
dst=internal/playground/assets
cp "$src/graphiql/dist/index.umd.js" "$dst/graphiql.js"
cp "$src/graphiql/dist/style.css" "$dst/graphiql.css"
cp "$src/react/umd/react.production.min.js" "$dst/react.js"
cp "$src/react-dom/umd/react-dom.production.min.js" "$dst/react-dom.js"
