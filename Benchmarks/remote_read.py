#!/usr/bin/env python3
"""Remote read against the JSON query API, on the same 1,000,000 samples, in one run.

Usage: python3 Benchmarks/remote_read.py BIN_DIR   (BIN_DIR holds a release build of thaw-collector)
       `make bench-remote-read` builds it and runs this.

It writes 100 series x 10,000 samples (15 s apart) as OpenMetrics, turns them into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics`, starts Prometheus on 127.0.0.1 with that data, and
then times, ROUNDS times each, interleaved:
  - `thaw-collector read --summary --mode chunks` and `--mode samples` (process start, request,
    decode into samples, count),
  - `/api/v1/query_range` with step 15 s over the same range, fetched and parsed with Python's json
    module (the path KEDA and prometheus-adapter take: an HTTP query API answering JSON).
Every path must return the same 1,000,000 samples; it prints the medians and the ratios, and where
the time goes: CPU seconds spent by the reader (thaw-collector, or this script parsing JSON) and by
Prometheus (from /proc) during each read.
"""
import json, os, resource, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

SERIES, SAMPLES, STEP_MS, T0_MS = 100, 10_000, 15_000, 1_700_000_000_000
ROUNDS = int(os.environ.get("ROUNDS", "3"))

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def main():
    bin_dir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="thaw-remote-read-bench-")
    try:
        text = os.path.join(work, "data.om")
        with open(text, "w") as f:
            f.write("# TYPE bench_value gauge\n")
            for s in range(SERIES):
                for i in range(SAMPLES):
                    f.write(f'bench_value{{series="{s}"}} {(s * 7 + i) % 100} {(T0_MS + i * STEP_MS) / 1000:.3f}\n')
            f.write("# EOF\n")
        data = os.path.join(work, "data")
        print("==> writing TSDB blocks with promtool", flush=True)
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", text, data], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1h}\nscrape_configs: []\n")
        server = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
                                   f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if urllib.request.urlopen(url + "/-/ready").status == 200: break
                except Exception: time.sleep(0.1)
            start_s, end_s = T0_MS / 1000, (T0_MS + (SAMPLES - 1) * STEP_MS) / 1000

            ticks = os.sysconf("SC_CLK_TCK")
            def server_cpu():
                with open(f"/proc/{server.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / ticks

            def children_cpu():
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                return usage.ru_utime + usage.ru_stime

            def collector(mode):
                began = time.perf_counter()
                out = subprocess.run([os.path.join(bin_dir, "thaw-collector"), "read", "--prometheus", url, "--match", "bench_value",
                                      "--start", str(start_s), "--end", str(end_s), "--mode", mode, "--summary"],
                                     check=True, capture_output=True, text=True).stdout
                elapsed = time.perf_counter() - began
                return elapsed, int(out.split()[2])

            def query_range():
                began = time.perf_counter()
                q = urllib.parse.urlencode({"query": "bench_value", "start": start_s, "end": end_s, "step": "15s"})
                body = urllib.request.urlopen(f"{url}/api/v1/query_range?{q}").read()
                result = json.loads(body)["data"]["result"]
                count = sum(len(series["values"]) for series in result)
                return time.perf_counter() - began, count

            times = {"chunks": [], "samples": [], "query_range": []}
            reader_cpu = {name: [] for name in times}
            prometheus_cpu = {name: [] for name in times}
            for _ in range(ROUNDS):
                for name, run in (("chunks", lambda: collector("chunks")), ("samples", lambda: collector("samples")), ("query_range", query_range)):
                    server_before, children_before, own_before = server_cpu(), children_cpu(), time.process_time()
                    elapsed, count = run()
                    assert count == SERIES * SAMPLES, f"{name} returned {count} samples"
                    times[name].append(elapsed)
                    prometheus_cpu[name].append(server_cpu() - server_before)
                    reader = (time.process_time() - own_before) if name == "query_range" else (children_cpu() - children_before)
                    reader_cpu[name].append(reader)
            base = statistics.median(times["query_range"])
            print(f"{SERIES * SAMPLES:,} samples ({SERIES} series x {SAMPLES}), median of {ROUNDS} rounds:")
            print(f"  {'path':12s} {'wall':>8s}   {'vs JSON':>7s}   {'reader CPU':>10s}   {'Prometheus CPU':>14s}")
            for name in ("chunks", "samples", "query_range"):
                m = statistics.median(times[name])
                print(f"  {name:12s} {m * 1000:5.0f} ms   {base / m:6.2f}x   {statistics.median(reader_cpu[name]) * 1000:7.0f} ms"
                      f"   {statistics.median(prometheus_cpu[name]) * 1000:11.0f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    import urllib.parse
    main()
