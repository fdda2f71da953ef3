#!/usr/bin/env bash
# Makes sure something answers on 127.0.0.1:6379 (the app's default connection): if nothing
# does, starts a private redis-server there in the background. It keeps its data (append-only
# file, synced every second) in $XDG_DATA_HOME/redchat/local-redis, so durable history and
# inboxes survive restarting it. REDCHAT_LOCAL_REDIS_PORT and REDCHAT_LOCAL_REDIS_DIR
# override the port and the directory (the tests use both).
set -euo pipefail
port=${REDCHAT_LOCAL_REDIS_PORT:-6379}
if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
  exit 0
fi
dir=${REDCHAT_LOCAL_REDIS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/redchat/local-redis}
mkdir -p "$dir"
chmod 700 "$dir"
redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
  --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" --save "" \
  --appendonly yes --appendfsync everysec
for _ in $(seq 50); do
  redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && { echo "started redis-server on 127.0.0.1:$port, data in $dir (log: $dir/redis.log)"; exit 0; }
  sleep 0.1
done
echo "redis-server did not start; see $dir/redis.log" >&2
exit 1
