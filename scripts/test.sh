#!/usr/bin/env bash
# Runs `go test ./...` with one versitygw for the whole run (each package
# would otherwise start its own). Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 17070)
export FILEGRAPH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
export FILEGRAPH_TEST_S3_ACCESS_KEY=filegraphtest
export FILEGRAPH_TEST_S3_SECRET_KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

.bin/versitygw --port "127.0.0.1:$port" --access "$FILEGRAPH_TEST_S3_ACCESS_KEY" \
  --secret "$FILEGRAPH_TEST_S3_SECRET_KEY" posix "$dir" >"$dir.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null; wait $gw 2>/dev/null; rm -rf "$dir" "$dir.log"' EXIT

for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 $gw 2>/dev/null || { cat "$dir.log"; echo "versitygw exited" >&2; exit 1; }
  sleep 0.1
done

# -count=1: results depend on services outside the build, so never reuse them.
go test -count=1 "$@" ${PKGS:-./...}
