#!/usr/bin/env bash
# make bench-grpc: h2load unary gRPC calls on 127.0.0.1 against one gRPC backend (echo-backend --h2c)
# directly, through thaw-activator (a target with protocol: h2c), and through nginx's grpc_pass with
# upstream keep-alive, in one run, with the same backend, call and load. Prints calls/s, p50 and
# p99 (from h2load's per-request log) and the server CPU per call for each, and the ratios.
#
# Everything shares this machine's cores: compare the ratios, which come from the same run.
# Settings (environment): DURATION (s, default 10), CLIENTS (h2load connections, 16), STREAMS
# (concurrent streams per connection, 10), THREADS (h2load threads, 2), PROXY_THREADS (activator
# threads = nginx workers, 2), ROUNDS (interleaved rounds per proxy, 2), ACTIVATOR (a thaw-activator
# executable to measure instead of this tree's release build).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-10}
THREADS=${THREADS:-2}
PROXY_THREADS=${PROXY_THREADS:-2}
ROUNDS=${ROUNDS:-2}
for tool in h2load nginx; do
  command -v $tool >/dev/null || { echo "error: $tool is not installed; run 'make bench-grpc', which installs it" >&2; exit 1; }
done

echo "==> building ${ACTIVATOR:+echo-backend}${ACTIVATOR:-thaw-activator and echo-backend} (release)"
[ -n "${ACTIVATOR:-}" ] || swift build -c release --product thaw-activator >/dev/null
swift build -c release --product echo-backend >/dev/null
BIN=$(swift build -c release --show-bin-path)
ACTIVATOR=${ACTIVATOR:-$BIN/thaw-activator}

. Benchmarks/proxy_bench.sh
BACKEND_PORT=$(free_port); ACTIVATOR_PORT=$(free_port); ADMIN_PORT=$(free_port); NGINX_PORT=$(free_port)
"$BIN/echo-backend" --h2c --port "$BACKEND_PORT" --threads 1 >"$WORK/backend.log" 2>&1 & PIDS+=($!); BACKEND_PID=$!
cat >"$WORK/routes.yaml" <<YAML
targets:
  - name: bench
    hosts: [bench.local]
    endpoints: ["127.0.0.1:$BACKEND_PORT"]
    protocol: h2c
    readinessPath: /grpc.health.v1.Health/Check
YAML
"$ACTIVATOR" --config "$WORK/routes.yaml" --port "$ACTIVATOR_PORT" --admin-port "$ADMIN_PORT" \
  --threads "$PROXY_THREADS" --log-level warning >"$WORK/activator.log" 2>&1 & PIDS+=($!); ACTIVATOR_PID=$!

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes $PROXY_THREADS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  # nginx closes a connection after 1,000 requests by default (client side and upstream side); h2load
  # does not reconnect, so both are lifted: thaw-activator has no such limit.
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:$NGINX_PORT http2;
    keepalive_requests 100000000;
    http2_max_concurrent_streams 1000;
    location / { grpc_pass grpc://backend; }
  }
}
NGINX
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & PIDS+=($!)

# A gRPC message: no compression, 4-byte length, 32 bytes of payload.
python3 -c 'import sys; sys.stdout.buffer.write(b"\0\0\0\0\x20" + bytes(range(32)))' >"$WORK/call.bin"
h2() { h2load "$@" -d "$WORK/call.bin" -H 'content-type: application/grpc' -H 'te: trailers' -H ':authority: bench.local'; }
for port in $BACKEND_PORT $NGINX_PORT $ACTIVATOR_PORT; do
  for _ in $(seq 1 200); do
    h2 -n 1 -c 1 "http://127.0.0.1:$port/bench.Echo/Call" 2>/dev/null | grep -q "1 succeeded" && break; sleep 0.05
  done
done

# Server CPU: user plus kernel ticks of the given processes.
server_ticks() { echo $(( $(cpu_ticks 14 "$@") + $(cpu_ticks 15 "$@") )); }

# run NAME PORT PIDS: a warm-up, then a measured run with a per-call log; appends
# "name calls_per_s p50_ms p99_ms cpu_us_per_call" to results.
run() {
  local name=$1 port=$2 pids=$3 out ticks0 ticks1
  h2 -c "$CLIENTS" -m "$STREAMS" -t "$THREADS" -D 2 "http://127.0.0.1:$port/bench.Echo/Call" >/dev/null
  ticks0=$(server_ticks $pids)
  out=$(h2 -c "$CLIENTS" -m "$STREAMS" -t "$THREADS" -D "$DURATION" --log-file "$WORK/$name.log" "http://127.0.0.1:$port/bench.Echo/Call")
  ticks1=$(server_ticks $pids)
  local failed; failed=$(echo "$out" | awk '/^requests:/ { print $10 + $12 }')
  [ "${failed:-0}" = 0 ] || echo "warning: $name: $failed calls failed or errored" >&2
  python3 - "$WORK/$name.log" "$name" "$DURATION" "$((ticks1 - ticks0))" "$TICKS_PER_SECOND" >>"$WORK/results" <<'PY'
import sys
path, name, duration, ticks, hz = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
# h2load's log: start time (us since the epoch), HTTP status, duration (us), one call a line.
lat = sorted(int(line.split()[2]) for line in open(path) if line.split()[1] == "200")
n = len(lat)
print(f"{name} {n / duration:.0f} {lat[n // 2] / 1000:.3f} {lat[int(n * 0.99)] / 1000:.3f} {ticks / hz * 1e6 / max(n, 1):.2f}")
PY
  tail -1 "$WORK/results" | awk '{ printf "    %-10s %9s calls/s   p50 %7.3f ms   p99 %7.3f ms   server CPU/call %6.2f us\n", $1, $2, $3, $4, $5 }'
  rm -f "$WORK/$name.log"
}

echo "==> h2load -c$CLIENTS -m$STREAMS -t$THREADS -D${DURATION}s unary gRPC calls (37-byte message), proxies with $PROXY_THREADS threads/workers, backend with 1 thread, $ROUNDS rounds"
NGINX_PIDS=$(pgrep -f "nginx: worker process" -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' ')
run direct "$BACKEND_PORT" "$BACKEND_PID"
for round in $(seq 1 "$ROUNDS"); do
  echo "  round $round"
  run nginx "$NGINX_PORT" "$NGINX_PIDS"
  run activator "$ACTIVATOR_PORT" "$ACTIVATOR_PID"
done

echo
echo "==> medians over $ROUNDS rounds"
python3 - "$WORK/results" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, *values = line.split()
    rows.setdefault(name, []).append(tuple(float(v) for v in values))
med = {n: tuple(statistics.median(v[i] for v in vals) for i in range(4)) for n, vals in rows.items()}
print(f"{'':10} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/call':>19}")
for n in ("direct", "nginx", "activator"):
    r = med[n]; print(f"{n:10} {r[0]:9.0f} {r[1]:8.3f} {r[2]:8.3f} {r[3]:19.2f}")
a, g = med["activator"], med["nginx"]
print(f"activator / nginx throughput: {a[0]/g[0]:.2f}x   p99: {a[2]/g[2]:.2f}x   CPU per call: {a[3]/g[3]:.2f}x   (below 1 is better for p99 and CPU)")
PY
