#!/usr/bin/env bash
# Makes sure something answers on 127.0.0.1:6379 (the app's default connection): if nothing
# does, starts a private redis-server there in the background.
set -euo pipefail
if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  exit 0
fi
dir=${XDG_RUNTIME_DIR:-/tmp}/redchat-redis
mkdir -p "$dir"
redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --dir "$dir" \
  --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" --save "" --appendonly no
for _ in $(seq 50); do
  redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && { echo "started redis-server on 127.0.0.1:6379 (log: $dir/redis.log)"; exit 0; }
  sleep 0.1
done
echo "redis-server did not start; see $dir/redis.log" >&2
exit 1
