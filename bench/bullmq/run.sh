#!/usr/bin/env bash
# The anchor for per-task speed: BullMQ on Redis with appendfsync always (durable), 20,000 no-op
# jobs, one Worker process with concurrency 50. Run it right before and after `deno task bench`
# and compare in the same run: absolute figures drift on this machine, ratios do not.
# Needs redis-server (apt-get install -y redis-server) and npm. Loopback only; ~30 s.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)  # bench/bullmq (copied from ../shared/bench/bullmq)
WORK=${BULLMQ_WORK:-/tmp/bullmq-anchor}
mkdir -p "$WORK"; cp "$HERE/package.json" "$HERE/bullmq-bench.mjs" "$WORK/"
[ -d "$WORK/node_modules/bullmq" ] || (cd "$WORK" && npm install --no-audit --no-fund >/dev/null 2>&1)
command -v redis-server >/dev/null || { echo "redis-server missing: apt-get install -y redis-server"; exit 1; }
PORT=${REDIS_PORT:-6393}; DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save '' --appendonly yes --appendfsync always \
  --daemonize no >"$DIR/redis.log" 2>&1 &
R=$!; trap 'kill $R 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 20); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.3; done
cd "$WORK" && REDIS_PORT=$PORT REMOVE_ON_COMPLETE=1 node bullmq-bench.mjs "${1:-20000}" 50 "${2:-0}" 500
