#!/usr/bin/env python3
"""make bench-kubernetes: Thaw's daemons on a large cluster (the fake API server of the tests).

The fake starts with DEPLOYMENTS annotated Deployments (default 10,000, spread over 100 namespaces)
and PODS_PER pods each (default 3: 30,000 pods), all Running and Ready on addresses of their own in
127.0.0.0/8, where one echo-backend listening on 0.0.0.0 plays every pod's thaw-queue. Then:

1. thaw-autoscaler and thaw-activator (release builds) start with --kubeconfig; the time from their
   start to every target known (their /status lists them all) is reported for each;
2. their resident memory (VmRSS and the peak VmHWM) once they have settled;
3. five times: a request to a target whose only pod is Pending waits in the activator; the pod is
   patched Running and Ready in the fake; the time from the patch to the response (the watch event,
   the cluster view rebuilt, the activator's routes swapped, its readiness probe, the forward).

Goals from issue 12: under 10 s, under 300 MB each, under 100 ms. Everything runs on 127.0.0.1.
Usage: kubernetes.py BIN_DIR [DEPLOYMENTS] [PODS_PER]
"""
import json, os, socket, ssl, statistics, subprocess, sys, tempfile, threading, time, urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/release"
DEPLOYMENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
PODS_PER = int(sys.argv[3]) if len(sys.argv) > 3 else 3
NAMESPACES = 100
PROBES = 5
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ThawTestSupport", "fake_apiserver.py")
TOKEN = "bench-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def address(index):
    """A distinct loopback address per pod: 127.1.0.1 onwards."""
    index += 1
    return f"127.{1 + index // 65024}.{(index // 254) % 256}.{1 + index % 254}"


def deployment(name, namespace, replicas, queue_port):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"serving.thaw.dev/service": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": {
                         "autoscaling.knative.dev/class": "kpa.thaw.dev", "autoscaling.knative.dev/min-scale": "1",
                         "serving.thaw.dev/queue-port": str(queue_port), "serving.thaw.dev/readiness-path": "/ready"}},
                                  "spec": {"containers": [{"name": "model", "image": "model:1"}]}}}}


def pod(name, namespace, app, ip):
    status = {"phase": "Pending"} if ip is None else {
        "phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
            "spec": {"containers": [{"name": "model", "image": "model:1"}]}, "status": status}


def get_json(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields


work = tempfile.mkdtemp(prefix="thaw-bench-kube-")
print(f"work directory: {work}", flush=True)
processes = []
try:
    def path(name):
        return os.path.join(work, name)

    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *curve, "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "1", "-subj", "/CN=bench CA")
    openssl("req", *curve, "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=127.0.0.1")
    with open(path("san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-set_serial", "1",
            "-days", "1", "-extfile", path("san.cnf"), "-out", path("server.pem"))

    # One model server for every pod: it listens on all addresses, so each pod IP reaches it.
    backend = subprocess.Popen([f"{BIN}/echo-backend", "--host", "0.0.0.0", "--port", "0", "--threads", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    processes.append(backend)
    queue_port = int(backend.stdout.readline().split()[-1])

    items = []
    for i in range(DEPLOYMENTS):
        name, namespace = f"model-{i}", f"team-{i % NAMESPACES}"
        items.append(deployment(name, namespace, PODS_PER, queue_port))
        items.extend(pod(f"{name}-{k}", namespace, name, address(i * PODS_PER + k)) for k in range(PODS_PER))
    probe_addresses = []
    for i in range(PROBES):
        name = f"probe-{i}"
        items.append(deployment(name, "team-0", 1, queue_port))
        items.append(pod(f"{name}-0", "team-0", name, None))
        probe_addresses.append(address(DEPLOYMENTS * PODS_PER + i))
    with open(path("preload.json"), "w") as f:
        json.dump({"items": items}, f)

    fake = subprocess.Popen([sys.executable, "-u", FAKE, "--cert", path("server.pem"), "--key", path("server.key"),
                             "--token", TOKEN, "--preload", path("preload.json"), "--history", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    processes.append(fake)
    api_port = int(fake.stdout.readline().split()[-1])
    with open(path("kubeconfig"), "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: bench
clusters:
- name: bench
  cluster: {{server: "https://127.0.0.1:{api_port}", certificate-authority: "{path('ca.pem')}"}}
contexts:
- name: bench
  context: {{cluster: bench, user: thaw}}
users:
- name: thaw
  user: {{token: "{TOKEN}"}}
""")
    total = DEPLOYMENTS + PROBES
    print(f"cluster: {DEPLOYMENTS:,} Deployments and {DEPLOYMENTS * PODS_PER:,} Ready pods in {NAMESPACES} namespaces"
          f" (+{PROBES} with a Pending pod), served by the fake API server", flush=True)

    autoscaler_port, proxy_port, admin_port = free_port(), free_port(), free_port()
    started = time.monotonic()
    autoscaler = subprocess.Popen([f"{BIN}/thaw-autoscaler", "--kubeconfig", path("kubeconfig"), "--port", str(autoscaler_port),
                                   "--log-level", os.environ.get("LOG_LEVEL", "warning")], stdout=subprocess.DEVNULL,
                                  stderr=open(path("autoscaler.log"), "w"))
    activator = subprocess.Popen([f"{BIN}/thaw-activator", "--kubeconfig", path("kubeconfig"), "--port", str(proxy_port),
                                  "--admin-port", str(admin_port), "--autoscaler-url", f"http://127.0.0.1:{autoscaler_port}",
                                  "--log-level", "warning"], stderr=open(os.path.join(work, "activator.log"), "w"))
    processes += [autoscaler, activator]

    known = {}
    while len(known) < 2 and time.monotonic() - started < 120:
        for name, url in (("thaw-autoscaler", f"http://127.0.0.1:{autoscaler_port}/status"),
                          ("thaw-activator", f"http://127.0.0.1:{admin_port}/status")):
            if name in known:
                continue
            try:
                if len(get_json(url)["targets"]) == total:
                    known[name] = time.monotonic() - started
            except (OSError, ValueError):
                pass
        time.sleep(0.25)
    for name in ("thaw-autoscaler", "thaw-activator"):
        print(f"{name}: every target known {known[name]:.2f} s after start" if name in known else f"{name}: not every target known after 120 s")

    time.sleep(5)  # the activator probes 30,000 endpoints once; let it settle
    for name, process in (("thaw-autoscaler", autoscaler), ("thaw-activator", activator)):
        m = memory(process.pid)
        print(f"{name}: RSS {m['VmRSS']:.0f} MB (peak {m['VmHWM']:.0f} MB)")

    context = ssl.create_default_context(cafile=path("ca.pem"))
    delays = []
    for i in range(PROBES):
        outcome = {}

        def request():
            with socket.create_connection(("127.0.0.1", proxy_port)) as s:
                s.settimeout(60)
                s.sendall(f"GET /predict HTTP/1.1\r\nHost: probe-{i}.team-0.svc.cluster.local\r\n\r\n".encode())
                outcome["line"] = s.recv(4096).split(b"\r\n")[0].decode()
                outcome["at"] = time.monotonic()

        waiting = threading.Thread(target=request)
        waiting.start()
        time.sleep(0.5)  # queued in the activator by now
        body = json.dumps({"status": {"phase": "Running", "podIP": probe_addresses[i],
                                      "conditions": [{"type": "Ready", "status": "True"}]}}).encode()
        patch = urllib.request.Request(f"https://127.0.0.1:{api_port}/api/v1/namespaces/team-0/pods/probe-{i}-0/status", data=body,
                                       method="PATCH", headers={"Authorization": f"Bearer {TOKEN}",
                                                                "Content-Type": "application/merge-patch+json"})
        patched = time.monotonic()
        urllib.request.urlopen(patch, context=context, timeout=30).read()
        waiting.join(timeout=60)
        if outcome.get("line", "").endswith("200 OK"):
            delays.append((outcome["at"] - patched) * 1000)
        else:
            print(f"probe-{i}: {outcome.get('line', 'no answer')}")
    if delays:
        print(f"pod Ready in the API -> request answered through the activator: median {statistics.median(delays):.0f} ms, "
              f"max {max(delays):.0f} ms over {len(delays)} pods ({', '.join(f'{d:.0f}' for d in delays)})")
finally:
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
