#!/usr/bin/env python3
"""make bench-memory: what requests waiting at zero replicas cost thaw-activator, and whether it
gives the memory back once they are answered.

Starts the release thaw-activator with a target that has no endpoint, opens COUNT connections
(default 10,000) that each send one 64-byte POST, and reads the activator's resident memory
(VmRSS, and RssAnon: the heap without shared libraries) idle, with every request waiting, once a
replica (echo-backend) came and every request was answered, and 5 s after the clients closed.
Then, separately, what a kept-alive client connection costs while it idles after one answered
request (KEPT connections, default 3,000). BASELINE=path/to/another/thaw-activator measures that
executable the same way after this one.
127.0.0.1 only; the activator's connection cap is raised above COUNT for the run."""
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

COUNT = int(os.environ.get("COUNT", "10000"))
KEPT = int(os.environ.get("KEPT", "3000"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def memory(pid):
    status = open(f"/proc/{pid}/status").read()
    field = lambda name: int(re.search(rf"{name}:\s+(\d+)", status).group(1)) / 1024
    return field("VmRSS"), field("RssAnon")


async def measure(binary, backend_binary):
    work = tempfile.mkdtemp(prefix="thaw-memory-")
    routes = os.path.join(work, "routes.yaml")

    def write_routes(endpoints):
        with open(routes + ".tmp", "w") as file:
            file.write("targets:\n  - name: m\n    hosts: [m.local]\n    endpoints: [%s]\n    readinessPath: /ready\n"
                       "    queueLimit: %d\n    timeoutSeconds: 300\n" % (endpoints, COUNT * 2))
        os.rename(routes + ".tmp", routes)

    write_routes("")
    activator = subprocess.Popen([binary, "--config", routes, "--port", "0", "--admin-port", "0",
                                  "--max-connections", str(COUNT + 5000)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    backend = None
    try:
        line = ""
        while "listening" not in line:
            line = activator.stdout.readline()
            if not line:
                raise SystemExit(f"{binary} exited before listening")
        # Keep reading its log, so a full pipe never stalls it.
        threading.Thread(target=lambda: [None for _ in activator.stdout], daemon=True).start()
        port = int(re.search(r"proxy=[^ ]*:(\d+)", line).group(1))
        admin = int(re.search(r"admin=[^ ]*:(\d+)", line).group(1))

        def queued():
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{admin}/status").read())["targets"][0]["queueLength"]

        idle = memory(activator.pid)
        connections = []

        async def one(index):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            connections.append(writer)
            writer.write(b"POST /predict/%d HTTP/1.1\r\nhost: m.local\r\ncontent-length: 64\r\n\r\n" % index + b"x" * 64)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            return head.startswith(b"HTTP/1.1 200")

        tasks = []
        for index in range(COUNT):
            tasks.append(asyncio.create_task(one(index)))
            if index % 500 == 0:
                await asyncio.sleep(0)
        while queued() < COUNT:
            await asyncio.sleep(0.2)
        waiting = memory(activator.pid)
        backend = subprocess.Popen([backend_binary, "--name", "b", "--port", "0"], stdout=subprocess.PIPE, text=True)
        backend_port = int(backend.stdout.readline().split()[-1])
        released = time.time()
        write_routes(f'"127.0.0.1:{backend_port}"')
        answered = sum(await asyncio.gather(*tasks))
        seconds = time.time() - released
        after = memory(activator.pid)
        for writer in connections:
            writer.close()
        await asyncio.sleep(5)
        settled = memory(activator.pid)
        return idle, waiting, after, settled, answered, seconds
    finally:
        activator.terminate()
        if backend:
            backend.terminate()


async def kept_alive_cost(binary, backend_binary):
    """Heap per kept-alive connection idling after one answered request, in KiB."""
    backend = subprocess.Popen([backend_binary, "--name", "b", "--port", "0"], stdout=subprocess.PIPE, text=True)
    work = tempfile.mkdtemp(prefix="thaw-memory-")
    routes = os.path.join(work, "routes.yaml")
    with open(routes, "w") as file:
        file.write('targets:\n  - name: m\n    hosts: [m.local]\n    endpoints: ["127.0.0.1:%s"]\n    readinessPath: /ready\n'
                   % backend.stdout.readline().split()[-1])
    activator = subprocess.Popen([binary, "--config", routes, "--port", "0", "--admin-port", "0", "--max-connections", str(KEPT + 5000)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        while "listening" not in line:
            line = activator.stdout.readline()
        threading.Thread(target=lambda: [None for _ in activator.stdout], daemon=True).start()
        port = int(re.search(r"proxy=[^ ]*:(\d+)", line).group(1))
        await asyncio.sleep(1.5)
        before = memory(activator.pid)[1]
        writers = []
        for index in range(KEPT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nhost: m.local\r\nuser-agent: bench\r\naccept: */*\r\n\r\n")
            await reader.readuntil(b"Hello World!\n")
            writers.append(writer)
        await asyncio.sleep(2)
        return (memory(activator.pid)[1] - before) * 1024 / KEPT
    finally:
        activator.terminate()
        backend.terminate()


def report(name, result):
    idle, waiting, after, settled, answered, seconds = result
    print(f"{name}: {answered}/{COUNT} answered {seconds:.1f} s after the replica came")
    print(f"  {'':28} {'RSS MB':>8} {'heap (RssAnon) MB':>18}")
    for label, (rss, anon) in [("idle", idle), (f"{COUNT} waiting", waiting), ("all answered", after), ("5 s after the clients left", settled)]:
        print(f"  {label:28} {rss:8.1f} {anon:18.1f}")
    print(f"  per waiting request: {(waiting[1] - idle[1]) * 1024 / COUNT:.2f} KiB of heap")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < COUNT + 1000:
        raise SystemExit(f"COUNT={COUNT} needs {COUNT + 1000} descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    subprocess.run(["swift", "build", "-c", "release", "--product", "thaw-activator"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["swift", "build", "-c", "release", "--product", "echo-backend"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    backend = os.path.join(bin_path, "echo-backend")
    activator = os.environ.get("ACTIVATOR", os.path.join(bin_path, "thaw-activator"))
    report("thaw-activator", asyncio.run(measure(activator, backend)))
    if os.environ.get("BASELINE"):
        report("baseline", asyncio.run(measure(os.environ["BASELINE"], backend)))
    for name, binary in [("thaw-activator", activator), ("baseline", os.environ.get("BASELINE"))]:
        if binary:
            print(f"{name}: a kept-alive connection idling after one request: {asyncio.run(kept_alive_cost(binary, backend)):.2f} KiB of heap")


if __name__ == "__main__":
    main()
