#!/usr/bin/env bash
# make bench-activator: wrk on 127.0.0.1 against one echo-backend directly, through thaw-activator,
# and through nginx proxy_pass with upstream keep-alive, in one run, with the same backend, the same
# request and the same connection count. Prints requests/s, p50 and p99 for each, and the ratios.
#
# Everything shares this machine's cores, so absolute numbers measure CPU cost per request; compare
# the ratios, which come from the same run. Settings (environment): DURATION (s, default 10),
# CONNECTIONS (64), THREADS (wrk threads, 2), PROXY_THREADS (activator threads = nginx workers, 2),
# ROUNDS (interleaved rounds per proxy, 2), BODY (response size in bytes; default: the 13-byte hello),
# BASELINE (another thaw-activator executable, e.g. one built from an earlier commit: it runs as a
# fourth proxy in the same rounds, and the activator is compared with it too), ACTIVATOR (a
# thaw-activator executable to measure instead of this tree's release build).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PROXY_THREADS=${PROXY_THREADS:-2}
ROUNDS=${ROUNDS:-2}
BODY=${BODY:-}
BASELINE=${BASELINE:-}
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || { echo "error: BASELINE=$BASELINE is not an executable" >&2; exit 1; }
URL_PATH=/
[ -n "$BODY" ] && URL_PATH="/big?n=$BODY"
for tool in wrk nginx; do
  command -v $tool >/dev/null || { echo "error: $tool is not installed; run 'make bench-activator', which installs it" >&2; exit 1; }
done

echo "==> building ${ACTIVATOR:+echo-backend}${ACTIVATOR:-thaw-activator and echo-backend} (release)"
[ -n "${ACTIVATOR:-}" ] || swift build -c release --product thaw-activator >/dev/null
swift build -c release --product echo-backend >/dev/null
BIN=$(swift build -c release --show-bin-path)
ACTIVATOR=${ACTIVATOR:-$BIN/thaw-activator}
[ -x "$ACTIVATOR" ] || { echo "error: ACTIVATOR=$ACTIVATOR is not an executable" >&2; exit 1; }

. Benchmarks/proxy_bench.sh
wait_for() { for _ in $(seq 1 200); do curl -s -o /dev/null -H "Host: bench.local" "$1" && return 0; sleep 0.05; done; echo "error: $1 did not answer" >&2; exit 1; }

ACTIVATOR_PORT=$(free_port); ADMIN_PORT=$(free_port); NGINX_PORT=$(free_port)
start_echo_backend "$BIN"
"$ACTIVATOR" --config "$WORK/routes.yaml" --port "$ACTIVATOR_PORT" --admin-port "$ADMIN_PORT" \
  --threads "$PROXY_THREADS" --log-level warning >"$WORK/activator.log" 2>&1 & PIDS+=($!); ACTIVATOR_PID=$!
if [ -n "$BASELINE" ]; then
  BASELINE_PORT=$(free_port); BASELINE_ADMIN_PORT=$(free_port)
  "$BASELINE" --config "$WORK/routes.yaml" --port "$BASELINE_PORT" --admin-port "$BASELINE_ADMIN_PORT" \
    --threads "$PROXY_THREADS" --log-level warning >"$WORK/baseline.log" 2>&1 & PIDS+=($!); BASELINE_PID=$!
fi

# Buffers in memory for bodies up to 1 MiB, never a temp file: nginx at its best here.
write_nginx_conf "$NGINX_PORT" "worker_processes $PROXY_THREADS;" "proxy_buffer_size 16k; proxy_buffers 64 16k; proxy_max_temp_file_size 0;"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & PIDS+=($!)

wait_for "http://127.0.0.1:$BACKEND_PORT/"
wait_for "http://127.0.0.1:$NGINX_PORT/"
for port in $ACTIVATOR_PORT ${BASELINE_PORT:-}; do
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' "http://127.0.0.1:$port/")" = 200 ] && break; sleep 0.05
  done
done


# run NAME PORT PIDS: one warm-up and one measured wrk run; appends "name rps p50_ms p99_ms cpu_us_per_request"
# to results, where the CPU is what the proxy processes (PIDS) used during the measured run.
run() {
  local name=$1 port=$2 pids=$3 out user0 sys0 user1 sys1
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Host: bench.local" "http://127.0.0.1:$port$URL_PATH" >/dev/null
  user0=$(cpu_ticks 14 $pids); sys0=$(cpu_ticks 15 $pids)
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Host: bench.local" "http://127.0.0.1:$port$URL_PATH")
  user1=$(cpu_ticks 14 $pids); sys1=$(cpu_ticks 15 $pids)
  local errors; errors=$(echo "$out" | grep -E "Non-2xx|Socket errors" || true)
  [ -n "$errors" ] && echo "warning: $name: $errors" >&2
  echo "$out" | awk -v name="$name" -v user=$((user1 - user0)) -v sys=$((sys1 - sys0)) -v hz="$TICKS_PER_SECOND" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps=$2 }
    / requests in / { total=$1 }
    $1=="50%" { p50=ms($2) }
    $1=="99%" { p99=ms($2) }
    END { n = (total > 0 ? total : 1); printf "%s %.0f %.3f %.3f %.2f %.2f %.2f\n", name, rps, p50, p99,
          (user + sys) / hz * 1e6 / n, user / hz * 1e6 / n, sys / hz * 1e6 / n }' >>"$WORK/results"
  tail -1 "$WORK/results" | awk '{ printf "    %-10s %9s req/s   p50 %7.3f ms   p99 %7.3f ms   server CPU/request %6.2f us (user %.2f, kernel %.2f)\n", $1, $2, $3, $4, $5, $6, $7 }'
}

echo "==> wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s GET $URL_PATH, proxies with $PROXY_THREADS threads/workers, backend with 1 thread, $ROUNDS rounds"
NGINX_PIDS=$(pgrep -f "nginx: worker process" -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' ')
run direct "$BACKEND_PORT" "$BACKEND_PID"
for round in $(seq 1 "$ROUNDS"); do
  echo "  round $round"
  run nginx "$NGINX_PORT" "$NGINX_PIDS"
  run activator "$ACTIVATOR_PORT" "$ACTIVATOR_PID"
  [ -z "$BASELINE" ] || run baseline "$BASELINE_PORT" "$BASELINE_PID"
done

echo
echo "==> medians over $ROUNDS rounds"
python3 - "$WORK/results" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, *values = line.split()
    rows.setdefault(name, []).append(tuple(float(v) for v in values))
med = {n: tuple(statistics.median(v[i] for v in vals) for i in range(6)) for n, vals in rows.items()}
print(f"{'':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/req':>18} {'user':>7} {'kernel':>7}")
for n in ("direct", "nginx", "activator", "baseline"):
    if n not in med: continue
    r = med[n]; print(f"{n:10} {r[0]:9.0f} {r[1]:8.3f} {r[2]:8.3f} {r[3]:18.2f} {r[4]:7.2f} {r[5]:7.2f}")
a, g, d = med["activator"], med["nginx"], med["direct"]
print(f"activator / nginx throughput: {a[0]/g[0]:.2f}x   p99: {a[2]/g[2]:.2f}x   CPU per request: {a[3]/g[3]:.2f}x   (below 1 is better for p99 and CPU)")
print(f"activator / direct throughput: {a[0]/d[0]:.2f}x   nginx / direct: {g[0]/d[0]:.2f}x")
if "baseline" in med:
    b = med["baseline"]
    print(f"baseline / nginx throughput: {b[0]/g[0]:.2f}x   p99: {b[2]/g[2]:.2f}x   CPU per request: {b[3]/g[3]:.2f}x")
    print(f"activator / baseline throughput: {a[0]/b[0]:.2f}x   p99: {a[2]/b[2]:.2f}x   CPU per request: {a[3]/b[3]:.2f}x")
PY
