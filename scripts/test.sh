#!/usr/bin/env bash
# Runs `go test ./...` with one versitygw for the whole run (each package
# would otherwise start its own). Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
export FILEGRAPH_TEST_S3_ACCESS_KEY=filegraphtest
export FILEGRAPH_TEST_S3_SECRET_KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Port 0: versitygw takes a free port itself (no port is picked here, freed,
# and raced for); /proc (Linux) tells which: its socket inodes, matched
# against the kernel's table of listening sockets.
.bin/versitygw --port "127.0.0.1:0" --access "$FILEGRAPH_TEST_S3_ACCESS_KEY" \
  --secret "$FILEGRAPH_TEST_S3_SECRET_KEY" posix "$dir" >"$dir.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null; wait $gw 2>/dev/null; rm -rf "$dir" "$dir.log"' EXIT

hexport=
for _ in $(seq 150); do
  kill -0 $gw 2>/dev/null || { cat "$dir.log"; echo "versitygw exited" >&2; exit 1; }
  # A descriptor can close between the glob and readlink: that is no
  # failure (under set -e and pipefail it ended the script silently).
  inodes=$(for fd in /proc/$gw/fd/*; do readlink "$fd" || true; done 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
  if [ -n "$inodes" ]; then
    hexport=$(awk -v ids="$inodes" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
      NR > 1 && $4 == "0A" && ($10 in want) { split($2, p, ":"); print p[2]; exit }' "/proc/$gw/net/tcp" || true)
  fi
  [ -n "$hexport" ] && break
  sleep 0.1
done
[ -n "$hexport" ] || { cat "$dir.log"; echo "versitygw listens on no port (this script needs Linux's /proc)" >&2; exit 1; }
port=$((16#$hexport))
export FILEGRAPH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"

for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# -count=1: results depend on services outside the build, so never reuse them.
# -timeout 25m: internal/server's tests take ~2.5 min alone and over 10 (go
# test's default) on a machine busy with other work; a hang still fails
# well inside CI's bound. A later -timeout in "$@" wins.
go test -count=1 -timeout 25m "$@" ${PKGS:-./...}
