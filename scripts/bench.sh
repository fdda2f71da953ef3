#!/usr/bin/env bash
# `make bench`: every benchmark end to end; JSON and text results in docs/bench/.
#   1. delivery: redchat-bench delivery --matrix (Redchat vs bare redis-rs) + redis-benchmark PUBLISH
#   2. wire codec: criterion
#   3. the real window under a firehose, scrolling back, and 4. footprint
#   5. release binary and package sizes
#   6. chaos: redis-server SIGKILLed and restarted mid-run, durable vs live-only; a Sentinel failover
#   7. rooms: one room, 200 members, 1k msg/s vs bare SUBSCRIBE; 8. presence cost of 2,000 users
#   9. the local message store: storing cost per message, search on 1,000,000 messages
#      (medians of 3 runs in docs/bench/rooms-presence.json)
# BENCH_SECONDS (default 4), FIREHOSE_SECONDS (30), ROOM_SECONDS (10), PRESENCE_SECONDS (20) shorten or lengthen runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/bench
mkdir -p "$out"
# 1,000 users hold 1,000-2,000 connections on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxclients 20000
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "== 1. delivery path vs bare redis-rs (redis-server $(redis-server --version | grep -o 'v=[0-9.]*'))"
target/perf/redchat-bench --url "redis://127.0.0.1:$port" delivery --matrix \
  --duration "${BENCH_SECONDS:-4}" --out "$out/delivery.json" | tee "$out/delivery.txt"

echo "== 2. wire codec (criterion)"
cargo bench -q -p redchat-core --bench wire -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
  | grep -E '^[a-z0-9/A-Z-]+ +time:|time:|thrpt:' | tee "$out/wire.txt"

echo "== 3-4. the real window under a firehose; footprint"
REDCHAT_APP=target/perf/redchat REDCHAT_BENCH=target/perf/redchat-bench \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo run -q -p redchat-e2e --example firehose -- "$out/firehose.json" | tee "$out/firehose.txt"

echo "== 9. the local message store: storing cost, search on 1M messages"
target/perf/redchat-bench store --messages "${STORE_MESSAGES:-1000000}" --out "$out/store.json" | tee "$out/store.txt"

echo "== 5. sizes"
{
  bin=target/release/redchat
  [[ -f $bin ]] && echo "release binary: $(stat -c %s "$bin") bytes"
  for pkg in target/release/bundle/deb/*.deb target/release/bundle/rpm/*.rpm; do
    [[ -f $pkg ]] && echo "$(basename "$pkg"): $(stat -c %s "$pkg") bytes"
  done
} | tee "$out/sizes.txt"

echo "== 6. chaos: server killed (SIGKILL) and restarted mid-run, per delivery mode"
target/perf/redchat-bench delivery --chaos --users 20 --rate 1000 --duration "${CHAOS_SECONDS:-15}" \
  --chaos-down 1 --chaos-down 30 --out "$out/chaos.json" | tee "$out/chaos.txt"
echo "== 6b. Sentinel failover: the master SIGKILLed, beside the sentinels' own failover time (3 runs)"
target/perf/redchat-bench delivery --chaos --users 20 --rate 1000 --duration "${CHAOS_SECONDS:-15}" \
  --chaos-failover --chaos-runs 3 --out "$out/failover.json" | tee "$out/failover.txt"
echo "== 6c. Redis Cluster: the primary of a user's inbox SIGKILLed (3 runs)"
target/perf/redchat-bench delivery --chaos --users 20 --rate 1000 --duration "${CHAOS_SECONDS:-15}" \
  --chaos-cluster --chaos-runs 3 --out "$out/cluster-failover.json" | tee "$out/cluster-failover.txt"

echo "== 7. rooms: one room, 200 members, 1k msg/s (Redchat vs bare SUBSCRIBE, same run), 3 runs"
for i in 1 2 3; do
  target/perf/redchat-bench --url "redis://127.0.0.1:$port" room --members 200 --rate 1000 \
    --duration "${ROOM_SECONDS:-10}" --out "$out/room-$i.json" >/dev/null
  target/perf/redchat-bench --url "redis://127.0.0.1:$port" room --members 200 --rate 1000 \
    --duration "${ROOM_SECONDS:-10}" --live-only --out "$out/room-live-$i.json" >/dev/null
  # The same room at a load this machine can carry (the 1k/s runs saturate the generator).
  target/perf/redchat-bench --url "redis://127.0.0.1:$port" room --members 200 --rate 300 \
    --duration "${ROOM_SECONDS:-10}" --out "$out/room-300-$i.json" >/dev/null
done

echo "== 8. presence: what 2,000 users' heartbeats cost the server, 3 runs"
for i in 1 2 3; do
  target/perf/redchat-bench --url "redis://127.0.0.1:$port" presence --users 2000 \
    --duration "${PRESENCE_SECONDS:-20}" --out "$out/presence-$i.json" >/dev/null
done
python3 scripts/bench-medians.py "$out" | tee "$out/rooms-presence.txt"
