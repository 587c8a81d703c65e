#!/usr/bin/env bash
# make bench-instructions: CPU instructions per proxied request, thaw-activator against nginx,
# counted exactly by a QEMU plugin (Benchmarks/insn/insn_count.c) instead of read from hardware
# counters (which VMs often lack) or valgrind (whose 3.19 cannot run Swift 6 binaries).
#
# Each proxy runs under qemu-x86_64 with the plugin, one thread (nginx: one process, no master),
# in front of one echo-backend (native). A Python client sends REQUESTS keep-alive GETs over
# CONNECTIONS connections; a second run sends a fifth as many; the difference of the two totals,
# divided by the difference in requests, is the cost of a request without start-up and shut-down.
# Counts repeat to within a fraction of a percent run to run; the ratio is the number to compare.
# Settings (environment): REQUESTS (20000), CONNECTIONS (8), BASELINE (another thaw-activator).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-20000}
CONNECTIONS=${CONNECTIONS:-8}
BASELINE=${BASELINE:-}
for tool in qemu-x86_64 nginx gcc; do
  command -v $tool >/dev/null || { echo "error: $tool is not installed; run 'make bench-instructions', which installs it" >&2; exit 1; }
done
echo "==> building thaw-activator and echo-backend (release) and the counting plugin"
swift build -c release --product thaw-activator >/dev/null
swift build -c release --product echo-backend >/dev/null
BIN=$(swift build -c release --show-bin-path)
. Benchmarks/proxy_bench.sh
gcc -shared -fPIC -O2 -o "$WORK/insn_count.so" Benchmarks/insn/insn_count.c

start_echo_backend "$BIN"

cat >"$WORK/drive.py" <<'PY'
import http.client, sys, threading
port, total, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
failed = []
def run(count):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(count):
        connection.request("GET", "/", headers={"Host": "bench.local"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            failed.append(response.status)
threads = [threading.Thread(target=run, args=(total // connections,)) for _ in range(connections)]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
if failed:
    sys.exit(f"{len(failed)} requests failed: {sorted(set(failed))}")
PY

# count NAME REQUESTS COMMAND...: runs COMMAND (a proxy on $PORT) under the plugin, sends the
# requests, stops it with SIGTERM and prints the instructions it executed in all.
count() {
  local name=$1 requests=$2; shift 2
  local out="$WORK/$name-$requests.count"
  rm -f "$out"
  qemu-x86_64 -plugin "$WORK/insn_count.so,out=$out" "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' "http://127.0.0.1:$PORT/")" = 200 ] && break; sleep 0.1
  done
  python3 "$WORK/drive.py" "$PORT" "$requests" "$CONNECTIONS"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  [ -s "$out" ] || { echo "error: $name wrote no count; its log:" >&2; tail -5 "$WORK/$name.log" >&2; exit 1; }
  cat "$out"
}

# per_request NAME COMMAND...: instructions per request from two runs of different lengths.
per_request() {
  local name=$1; shift
  local small=$((REQUESTS / 5)) long short
  long=$(count "$name" "$REQUESTS" "$@")
  short=$(count "$name" "$small" "$@")
  python3 -c "import sys; l, s, n = map(int, sys.argv[1:]); print(f'{(l - s) / n:.0f}')" "$long" "$short" $((REQUESTS - small))
}

activator_command() {
  echo "$1" --config "$WORK/routes.yaml" --port "$PORT" --admin-port "$(free_port)" --threads 1 --log-level warning
}

echo "==> $REQUESTS and $((REQUESTS / 5)) keep-alive GETs over $CONNECTIONS connections, each proxy under qemu-x86_64 with one thread"
PORT=$(free_port)
write_nginx_conf "$PORT" "master_process off;"
NGINX_PER=$(per_request nginx "$(command -v nginx)" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf")
echo "    nginx        $NGINX_PER instructions per request"
PORT=$(free_port)
read -r -a COMMAND <<<"$(activator_command "$BIN/thaw-activator")"
ACTIVATOR_PER=$(per_request activator "${COMMAND[@]}")
echo "    activator    $ACTIVATOR_PER instructions per request"
if [ -n "$BASELINE" ]; then
  PORT=$(free_port)
  read -r -a COMMAND <<<"$(activator_command "$BASELINE")"
  BASELINE_PER=$(per_request baseline "${COMMAND[@]}")
  echo "    baseline     $BASELINE_PER instructions per request"
fi
python3 - "$ACTIVATOR_PER" "$NGINX_PER" "${BASELINE_PER:-}" <<'PY'
import sys
activator, nginx = float(sys.argv[1]), float(sys.argv[2])
print(f"activator / nginx instructions per request: {activator / nginx:.2f}x")
if sys.argv[3]:
    print(f"activator / baseline instructions per request: {activator / float(sys.argv[3]):.2f}x")
PY
