# Shared by the proxy benchmarks (activator.sh, grpc.sh, instructions.sh), sourced after
# `set -euo pipefail`: a scratch directory cleaned on exit, free ports, CPU ticks of processes, one echo-backend with the routing file that
# points thaw-activator at it, and nginx's proxy_pass configuration for the same backend.

WORK=$(mktemp -d /tmp/thaw-bench.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# cpu_ticks FIELD PID...: user (14) or system (15) clock ticks used so far by these processes.
cpu_ticks() { local field=$1 total=0; shift; for pid in "$@"; do total=$((total + $(awk -v f="$field" '{print $f}' "/proc/$pid/stat"))); done; echo $total; }
TICKS_PER_SECOND=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_echo_backend BIN: one echo-backend thread on a free port (BACKEND_PORT, BACKEND_PID), and
# $WORK/routes.yaml routing Host bench.local to it.
start_echo_backend() {
  BACKEND_PORT=$(free_port)
  "$1/echo-backend" --port "$BACKEND_PORT" --threads 1 >"$WORK/backend.log" 2>&1 & PIDS+=($!); BACKEND_PID=$!
  cat >"$WORK/routes.yaml" <<YAML
targets:
  - name: bench
    hosts: [bench.local]
    endpoints: ["127.0.0.1:$BACKEND_PORT"]
    readinessPath: /ready
YAML
}

# write_nginx_conf PORT PROCESS_DIRECTIVES [LOCATION_DIRECTIVES]: $WORK/nginx/nginx.conf proxying
# 127.0.0.1:PORT to the backend with upstream keep-alive, as thaw-activator forwards.
write_nginx_conf() {
  mkdir -p "$WORK/nginx/logs"
  cat >"$WORK/nginx/nginx.conf" <<NGINX
daemon off;
$2
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      ${3:-}
    }
  }
}
NGINX
}
