#!/usr/bin/env bash
# Compares one benchmark at two commits in the same run: each commit gets a
# detached worktree (under a temporary folder, removed at the end), and
# the rounds alternate which goes first, so the load of a shared machine
# falls on both alike. Read the ratio of the medians, and allocs/op, which
# noise does not move.
#   scripts/bench-commits.sh BEFORE AFTER BENCH PKG [ROUNDS]
#   scripts/bench-commits.sh 6a68fd2^ 6a68fd2 BenchmarkSaveFiles ./internal/server 6
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n '2,8p' "$0"; exit 2; }
before=$1 after=$2 bench=$3 pkg=$4 rounds=${5:-4}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/before" 2>/dev/null; git worktree remove --force "$tmp/after" 2>/dev/null; rm -rf "$tmp"' EXIT
for side in before after; do
  git worktree add --detach "$tmp/$side" "${!side}" >/dev/null 2>&1
  ln -sfn "$PWD/.bin" "$tmp/$side/.bin"
  # The binary embeds the playground's assets (not committed).
  cp internal/playground/assets/*.js internal/playground/assets/*.css "$tmp/$side/internal/playground/assets/" 2>/dev/null || true
done
for r in $(seq "$rounds"); do
  order="before after"
  [ $((r % 2)) -eq 0 ] && order="after before"
  for side in $order; do
    (cd "$tmp/$side" && PKGS=$pkg ./scripts/test.sh -run '^$' -bench "$bench" -benchmem ${BENCHFLAGS:-} 2>&1) |
      grep -E '^Benchmark|FAIL|panic' | sed "s/^/$side  /"
  done
done
