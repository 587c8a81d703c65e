#!/usr/bin/env python3
"""make bench-activator-instructions: instructions per proxied request, counted by callgrind.

Wall-clock throughput on a shared 2-core machine moves by several percent from run to run;
instruction counts do not. Each activator given runs under `valgrind --tool=callgrind` with one
event-loop thread in front of the same echo-backend; after a warm-up, the counters are zeroed, a
fixed number of keep-alive requests is sent over a fixed number of connections, one at a time, and
the activator's instructions over that window are divided by the number of requests.

Usage: activator_instructions.py [--requests N] [--connections C] NAME=PATH/thaw-activator [NAME=PATH ...]
  (ECHO_BACKEND=path, default: the release build's echo-backend)
"""
import argparse
import glob
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, host="bench.local", timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/", headers={"Host": host})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"error: 127.0.0.1:{port} did not answer 200 within {timeout} s")


def send(port, requests, connections):
    """Exactly `requests` GETs, spread over `connections` keep-alive connections; all must be 200."""
    pool = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(connections)]
    for index in range(requests):
        connection = pool[index % connections]
        connection.request("GET", "/", headers={"Host": "bench.local"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"error: request {index} answered {response.status}")
    for connection in pool:
        connection.close()


def instructions(callgrind_output):
    total = 0
    for path in glob.glob(callgrind_output + "*"):
        with open(path) as f:
            for line in f:
                match = re.match(r"^summary:\s+(\d+)", line) or re.match(r"^totals:\s+(\d+)", line)
                if match:
                    total += int(match.group(1))
                    break
    return total


def measure(name, activator, backend_port, requests, connections, work):
    routes = os.path.join(work, "routes.yaml")
    with open(routes, "w") as f:
        f.write(f'targets:\n  - name: bench\n    hosts: [bench.local]\n    endpoints: ["127.0.0.1:{backend_port}"]\n    readinessPath: /ready\n')
    port, admin = free_port(), free_port()
    out = os.path.join(work, f"callgrind.{name}")
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", "--dump-instr=no", "--collect-atstart=yes",
         activator, "--config", routes, "--port", str(port), "--admin-port", str(admin), "--threads", "1", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{name}.log"), "w"))
    try:
        wait_for(port)
        send(port, 200, connections)  # warm-up: connections to the backend, caches, lazy metrics
        subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True, stdout=subprocess.DEVNULL)
        send(port, requests, connections)
        for path in glob.glob(out + "*"):
            os.remove(path)
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, stdout=subprocess.DEVNULL)
        time.sleep(1)
        return instructions(out)
    finally:
        process.terminate()
        process.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("activators", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("error: valgrind is not installed (apt-get install valgrind)")
    backend = os.environ.get("ECHO_BACKEND", ".build/release/echo-backend")
    work = tempfile.mkdtemp(prefix="thaw-instructions.")
    backend_port = free_port()
    echo = subprocess.Popen([backend, "--port", str(backend_port), "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        results = []
        for spec in args.activators:
            name, _, path = spec.partition("=")
            count = measure(name, path, backend_port, args.requests, args.connections, work)
            results.append((name, count))
            print(f"{name:12} {count / args.requests:12,.0f} instructions per request  ({count:,} for {args.requests} requests)", flush=True)
        if len(results) > 1:
            base_name, base = results[0]
            for name, count in results[1:]:
                print(f"{name} / {base_name}: {count / base:.3f}x instructions per request")
    finally:
        echo.terminate()
        echo.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
