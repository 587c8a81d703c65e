#!/usr/bin/env python3
"""make bench-cold-start: how soon buffered requests reach a replica after it passes its probe.

Starts thaw-activator (release) with a target that has no endpoint, sends N concurrent requests
(1 and 200 by default), waits until all are queued, starts an echo-backend that turns ready after
0.3 s, adds it to the routing file, and reads from the backend when its readiness probe first
passed and when the first and last buffered request arrived. Everything runs on 127.0.0.1.
"""
import json, os, socket, subprocess, sys, tempfile, threading, time, urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/release"
COUNTS = [int(n) for n in (sys.argv[2:] or ["1", "200"])]

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def routes(path, endpoints):
    listed = ", ".join(f'"{e}"' for e in endpoints)
    with open(path + ".tmp", "w") as f:
        f.write(f"targets:\n  - name: cold\n    hosts: [cold.local]\n    endpoints: [{listed}]\n    readinessPath: /ready\n")
    os.replace(path + ".tmp", path)

def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)

work = tempfile.mkdtemp(prefix="thaw-cold-")
config = os.path.join(work, "routes.yaml")
routes(config, [])
port, admin = free_port(), free_port()
activator = subprocess.Popen([f"{BIN}/thaw-activator", "--config", config, "--port", str(port),
                              "--admin-port", str(admin), "--log-level", "warning"])
try:
    for _ in range(200):
        try:
            get_json(f"http://127.0.0.1:{admin}/status"); break
        except OSError:
            time.sleep(0.05)
    for count in COUNTS:
        statuses = []
        def request():
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"GET /predict HTTP/1.1\r\nHost: cold.local\r\n\r\n")
                statuses.append(s.recv(4096).split(b"\r\n")[0].decode())
        threads = [threading.Thread(target=request) for _ in range(count)]
        for t in threads: t.start()
        while get_json(f"http://127.0.0.1:{admin}/status")["targets"][0]["queueLength"] != count:
            time.sleep(0.01)
        backend = subprocess.Popen([f"{BIN}/echo-backend", "--port", "0", "--ready-after", "0.3"], stdout=subprocess.PIPE)
        backend_port = int(backend.stdout.readline().split()[-1])
        routes(config, [f"127.0.0.1:{backend_port}"])
        for t in threads: t.join(timeout=30)
        stats = get_json(f"http://127.0.0.1:{backend_port}/stats")
        ok = sum(1 for s in statuses if s.endswith("200 OK"))
        print(f"{count:4} buffered requests: {ok} answered 200; first reached the replica "
              f"{(stats['firstRequestAt'] - stats['readyAt']) * 1000:.1f} ms and the last "
              f"{(stats['lastRequestAt'] - stats['readyAt']) * 1000:.1f} ms after its probe passed")
        backend.kill(); backend.wait()
        routes(config, [])
        time.sleep(0.5)
finally:
    activator.terminate(); activator.wait()
