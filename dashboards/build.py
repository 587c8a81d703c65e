#!/usr/bin/env python3
"""Builds Thaw's Grafana dashboards and Prometheus alert rules from one description.

    python3 dashboards/build.py            writes every file below (make dashboards)
    python3 dashboards/build.py --check    exits 1 naming the files that differ from what it would write
    python3 dashboards/build.py --queries  prints every panel and rule query as JSON lines, with the
                                           dashboard variables set to match everything (for the tests)

Written: dashboards/thaw-*.json (Grafana, schema 39), dashboards/alerts.yaml (a Prometheus rules
file), dashboards/configmap.yaml (the dashboards as a ConfigMap for Grafana's sidecar),
manifests/monitoring/prometheus-rule.yaml (the rules as a prometheus-operator PrometheusRule).
One description, so a panel, its rule and its runbook entry cannot drift apart.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A target is NAMESPACE/SERVICE-RELEASE on a cluster, SERVICE-RELEASE locally (RELEASE is
# "transformer" for a transformer): the variables are read out of the target label.
SEL = 'target=~"(${namespace}/)?${service}-${release}"'
SERVICE_TARGETS = 'target=~"(${namespace}/)?${service}-.*", target!~".*-transformer"'
RATE = "$__rate_interval"


def panel(title, description, queries, unit="short", kind="timeseries", fed=True):
    """queries: [(expr, legend)]. fed: local traffic alone gives it data (the tests require it)."""
    return {"title": title, "description": description, "queries": queries, "unit": unit, "kind": kind, "fed": fed}


def quantiles(metric, by="target"):
    return [(f'histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{SEL}}}[{RATE}])))', f"p{int(q * 100)} {{{{{by}}}}}")
            for q in (0.5, 0.95, 0.99)]


DASHBOARDS = [
    ("thaw-services", "Thaw / Services", "Per service, release and transformer: traffic, latency, replicas, the canary split and cold starts.", [
        panel("Requests by status code", "Requests the activator answered (its own answers included), per target and status code.",
              [(f'sum by (target, code) (rate(thaw_activator_requests_total{{{SEL}}}[{RATE}]))', "{{target}} {{code}}")], unit="reqps"),
        panel("Latency", "Arrival to the end of the response at the activator, cold-start waits included.",
              quantiles("thaw_activator_request_duration_seconds"), unit="s"),
        panel("Replicas", "What the decider wants, what was asked of the platform (after bounds), and what is ready.",
              [(f"thaw_autoscaler_desired_replicas{{{SEL}}}", "desired {{target}}"),
               (f"thaw_autoscaler_requested_replicas{{{SEL}}}", "requested {{target}}"),
               (f"thaw_autoscaler_ready_replicas{{{SEL}}}", "ready {{target}}")]),
        panel("Panic mode", "1 while a target decides on its short panic window (a burst).",
              [(f"thaw_autoscaler_panic_mode{{{SEL}}}", "{{target}}")]),
        panel("Canary share, measured against configured", "Each release's share of its service's predictor traffic, beside the configured canary percent.",
              [(f'100 * sum by (target) (rate(thaw_activator_requests_total{{{SERVICE_TARGETS}}}[{RATE}])) / ignoring(target) group_left '
                f'sum(rate(thaw_activator_requests_total{{{SERVICE_TARGETS}}}[{RATE}]))', "measured {{target}}"),
               ('thaw_activator_canary_traffic_percent{service=~"(${namespace}/)?${service}(-predictor)?"}', "configured {{canary_target}}")],
              unit="percent"),
        panel("Cold-start wait", "How long requests waited in the activator for a replica (scale from zero, or every replica busy).",
              quantiles("thaw_activator_buffered_seconds"), unit="s"),
        panel("Answered by the activator, and why", "Requests a replica never answered: the queue was full, the target failed, the request timed out.",
              [(f'sum by (target, reason) (increase(thaw_activator_own_answers_total{{{SEL}}}[{RATE}]))', "{{target}} {{reason}}")], fed=False),
    ]),
    ("thaw-autoscaler", "Thaw / Autoscaler", "Why each target has the replicas it has: the averages against the target, bursts, decisions, holds and leadership.", [
        panel("Stable and panic averages against the target", "The scaling metric over the stable and the panic window, and the per-replica target.",
              [(f"thaw_autoscaler_stable_value{{{SEL}}}", "stable {{target}}"), (f"thaw_autoscaler_panic_value{{{SEL}}}", "panic {{target}}"),
               (f"thaw_autoscaler_target_per_replica{{{SEL}}}", "target per replica {{target}}")]),
        panel("Excess burst capacity", "Spare capacity beyond the target burst capacity; negative keeps the activator in the path.",
              [(f"thaw_autoscaler_excess_burst_capacity{{{SEL}}}", "{{target}}")]),
        panel("Thaw policy: replicas beyond today's demand, and why",
              "Idle replicas kept warm by their level's learned window, replicas pre-warmed ahead of expected demand, replicas the demand one load time ahead asks for, and replicas not started because they would load after the need ends.",
              [(f"thaw_autoscaler_kept_warm_replicas{{{SEL}}}", "kept warm {{target}}"),
               (f"thaw_autoscaler_prewarmed_replicas{{{SEL}}}", "pre-warmed {{target}}"),
               (f"thaw_autoscaler_forecast_replicas{{{SEL}}}", "forecast {{target}}"),
               (f"thaw_autoscaler_unstarted_replicas{{{SEL}}}", "not started {{target}}")]),
        panel("Thaw policy: load time", "How long a new replica takes to become ready, as measured from the starts the autoscaler asked for.",
              [(f"thaw_autoscaler_load_time_seconds{{{SEL}}}", "{{target}}")], unit="s"),
        panel("Decisions", "Decisions per second, per target (every tick, poke and panic crossing).",
              [(f'sum by (target) (rate(thaw_autoscaler_decisions_total{{{SEL}}}[{RATE}]))', "{{target}}")], unit="ops"),
        panel("Poke to decision", "From a poke's arrival to the decision it caused being handed to the driver: wake-from-zero latency.",
              [(f'histogram_quantile({q}, sum by (le) (rate(thaw_autoscaler_poke_to_decision_seconds_bucket[{RATE}])))', f"p{int(q * 100)}")
               for q in (0.5, 0.99)], unit="s"),
        panel("Holding, fallback, waiting for capacity", "1 while the scale is held on missing stats, a failed signal's fallback applies, or a replica waits for a node.",
              [(f"thaw_autoscaler_holding{{{SEL}}}", "holding {{target}}"), (f"thaw_autoscaler_fallback{{{SEL}}}", "fallback {{target}}"),
               (f"thaw_autoscaler_waiting_for_capacity{{{SEL}}}", "waiting {{target}}")]),
        panel("Leader", "1 on the autoscaler replica that decides and writes (one, always).",
              [("thaw_autoscaler_leader", "{{instance}}")]),
        panel("Stats in", "Stat reports accepted and refused.",
              [(f"rate(thaw_autoscaler_stats_received_total[{RATE}])", "received"), (f"rate(thaw_autoscaler_stats_rejected_total[{RATE}])", "rejected")],
              unit="ops"),
    ]),
    ("thaw-activator", "Thaw / Activator and sidecars", "The data path: queues, requests in flight, endpoints and what the proxies cost.", [
        panel("Queue length", "Requests waiting for a replica in the activator.",
              [(f"thaw_activator_queue_length{{{SEL}}}", "{{target}}")]),
        panel("In flight", "Requests held by the activator (waiting or proxied), and by each replica's sidecar.",
              [(f"sum by (target) (thaw_activator_in_flight_requests{{{SEL}}})", "activator {{target}}"),
               (f"sum by (target) (thaw_queue_in_flight_requests{{{SEL}}})", "sidecars {{target}}")]),
        panel("Overflow and timeouts", "Requests turned away because the queue was full, or answered 504 at their timeout.",
              [(f'sum by (target, reason) (rate(thaw_activator_own_answers_total{{{SEL}, reason=~"queue_full|timeout"}}[{RATE}]))', "{{target}} {{reason}}")],
              unit="reqps", fed=False),
        panel("Endpoints", "Replica endpoints the activator knows, and those that passed its readiness probe.",
              [(f"thaw_activator_endpoints{{{SEL}}}", "{{target}} {{state}}")]),
        panel("Proxy overhead", "Median latency at the activator minus the median at the sidecars: what the extra hop costs.",
              [(f'histogram_quantile(0.5, sum by (target, le) (rate(thaw_activator_request_duration_seconds_bucket{{{SEL}}}[{RATE}]))) - on (target) '
                f'histogram_quantile(0.5, sum by (target, le) (rate(thaw_queue_request_duration_seconds_bucket{{{SEL}}}[{RATE}])))', "{{target}}")],
              unit="s"),
        panel("Client connections", "Open client connections on the activators' proxy ports.",
              [("thaw_activator_client_connections", "{{instance}}")]),
        panel("Retries", "Requests sent to another endpoint after the first could not be reached.",
              [(f"sum by (target) (rate(thaw_activator_retries_total{{{SEL}}}[{RATE}]))", "{{target}}")], unit="reqps"),
        panel("Stat reports", "Stat batches the activators sent to the autoscaler, by result.",
              [(f"sum by (result) (rate(thaw_activator_stat_reports_total[{RATE}]))", "{{result}}")], unit="ops"),
    ]),
    ("thaw-gpu", "Thaw / GPU", "GPU utilization and memory per pod and release against the GPU target, and the collector that reads them.", [
        panel("GPU utilization per pod", "DCGM_FI_DEV_GPU_UTIL of each GPU of the release's pods (dcgm-exporter scraped with honor_labels: false).",
              [('DCGM_FI_DEV_GPU_UTIL{exported_namespace=~"${namespace}", exported_pod=~"${service}-${release}-.*"}', "{{exported_pod}} GPU {{gpu}}")],
              unit="percent", fed=False),
        panel("GPU memory per pod", "DCGM_FI_DEV_FB_USED of each GPU of the release's pods.",
              [('DCGM_FI_DEV_FB_USED{exported_namespace=~"${namespace}", exported_pod=~"${service}-${release}-.*"}', "{{exported_pod}} GPU {{gpu}}")],
              unit="decmbytes", fed=False),
        panel("Per-replica GPU utilization against the target", "The collector's value per replica for each release, and the autoscaler's GPU target.",
              [(f'thaw_collector_signal_value{{{SEL}, metric="gpu"}} / thaw_collector_signal_replicas{{{SEL}, metric="gpu"}}', "{{target}}"),
               (f"thaw_autoscaler_target_per_replica{{{SEL}}}", "target {{target}}")], unit="percent", fed=False),
        panel("Collector reads", "Read latency per source, and failed reads by kind.",
              [(f'histogram_quantile(0.99, sum by (source, le) (rate(thaw_collector_read_seconds_bucket[{RATE}])))', "p99 {{source}}"),
               (f'sum by (source, kind) (rate(thaw_collector_read_errors_total[{RATE}]))', "errors {{source}} {{kind}}")], fed=False),
    ]),
]

# Alerts: (name, expr, for, severity, summary, runbook anchor in dashboards/README.md).
ALERTS = [
    ("ThawRequestsWaitingWithNoReadyReplica",
     "sum by (target) (thaw_activator_queue_length) > 0 and on (target) max by (target) (thaw_autoscaler_ready_replicas) == 0",
     "1m", "critical", "Requests for {{ $labels.target }} have waited more than a minute and no replica is ready.", "stuck-at-zero"),
    ("ThawActivatorQueueOverflow",
     'sum by (target) (rate(thaw_activator_own_answers_total{reason="queue_full"}[5m])) > 0',
     "5m", "warning", "The activator's queue for {{ $labels.target }} is full: requests are turned away with 503.", "timeouts"),
    ("ThawActivatorTimeouts",
     'sum by (target) (rate(thaw_activator_own_answers_total{reason="timeout"}[5m])) > 0',
     "5m", "warning", "Requests for {{ $labels.target }} reach their timeout in the activator (504).", "timeouts"),
    ("ThawAutoscalerHoldingOnMissingStats", "max by (target) (thaw_autoscaler_holding) == 1",
     "5m", "warning", "The autoscaler holds {{ $labels.target }}'s scale: its ready replicas stopped reporting stats.", "holding"),
    ("ThawCollectorFailing", "max by (source) (thaw_collector_source_up) == 0",
     "5m", "warning", "The collector cannot read {{ $labels.source }}: GPU-scaled targets hold or fall back.", "collector-failing"),
    ("ThawScaleFlapping", "sum by (target) (changes(thaw_autoscaler_requested_replicas[15m])) > 8",
     "0m", "warning", "{{ $labels.target }} changed its replica count more than 8 times in 15 minutes.", "flapping"),
    ("ThawNoAutoscalerLeader", "sum(thaw_autoscaler_leader) < 1 or absent(thaw_autoscaler_leader)",
     "1m", "critical", "No autoscaler replica leads: nothing scales.", "no-leader"),
]


def variable(name, label, regex):
    return {"name": name, "label": label, "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": "label_values(thaw_autoscaler_requested_replicas, target)", "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": "label_values(thaw_autoscaler_requested_replicas, target)", "regex": regex, "refresh": 2, "sort": 1,
            "includeAll": True, "allValue": ".*", "multi": False, "current": {"text": "All", "value": "$__all"}}


def dashboard(uid, title, description, panels):
    built = []
    for index, item in enumerate(panels):
        built.append({
            "id": index + 1, "type": item["kind"], "title": item["title"], "description": item["description"],
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
            "fieldConfig": {"defaults": {"unit": item["unit"]}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
            "targets": [{"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}} for n, (expr, legend) in enumerate(item["queries"])],
        })
    return {
        "uid": uid, "title": title, "description": description, "tags": ["thaw"], "schemaVersion": 39, "version": 1,
        "editable": True, "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "",
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {"text": "default", "value": "default"}},
            variable("namespace", "Namespace", "/^([^/]+)\\/.*/"),
            variable("service", "Service", "/^(?:[^/]+\\/)?(.+)-[^-]+$/"),
            variable("release", "Release", "/^(?:[^/]+\\/)?.+-([^-]+)$/"),
        ]},
        "annotations": {"list": []},
        "panels": built,
    }


def alerts_yaml(indent=""):
    lines = [f"{indent}groups:", f"{indent}  - name: thaw", f"{indent}    rules:"]
    for name, expr, duration, severity, summary, anchor in ALERTS:
        lines += [f"{indent}      - alert: {name}", f"{indent}        expr: {json.dumps(expr)}", f"{indent}        for: {duration}",
                  f"{indent}        labels: {{severity: {severity}}}", f"{indent}        annotations:",
                  f"{indent}          summary: {json.dumps(summary)}",
                  f"{indent}          runbook_url: {json.dumps('https://github.com/thaw-dev/thaw/blob/main/dashboards/README.md#' + anchor)}"]
    return "\n".join(lines) + "\n"


def files():
    out = {}
    boards = {}
    for uid, title, description, panels in DASHBOARDS:
        text = json.dumps(dashboard(uid, title, description, panels), indent=2, sort_keys=True) + "\n"
        out[f"dashboards/{uid}.json"] = text
        boards[f"{uid}.json"] = text
    out["dashboards/alerts.yaml"] = "# Thaw's alert rules; built by dashboards/build.py (edit it, then make dashboards).\n" + alerts_yaml()
    configmap = ["# Thaw's dashboards for Grafana's dashboard sidecar (it loads ConfigMaps labelled grafana_dashboard).",
                 "# Built by dashboards/build.py.", "apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: thaw-dashboards",
                 "  labels: {grafana_dashboard: \"1\"}", "data:"]
    for name, text in sorted(boards.items()):
        configmap.append(f"  {name}: |")
        configmap += ["    " + line if line else "" for line in text.rstrip("\n").split("\n")]
    out["dashboards/configmap.yaml"] = "\n".join(configmap) + "\n"
    rule = ["# Thaw's alert rules as a prometheus-operator PrometheusRule (the same as dashboards/alerts.yaml).",
            "# Built by dashboards/build.py. Apply with kubectl apply -k manifests/monitoring/ where the CRD exists.",
            "apiVersion: monitoring.coreos.com/v1", "kind: PrometheusRule", "metadata:", "  name: thaw", "  namespace: thaw-system",
            "  labels: {app.kubernetes.io/part-of: thaw}", "spec:"]
    out["manifests/monitoring/prometheus-rule.yaml"] = "\n".join(rule) + "\n" + alerts_yaml("  ")
    return out


def queries():
    """Every query with the variables matching everything, as the tests run them."""
    def concrete(expr):
        return (expr.replace("${namespace}", ".*").replace("${service}", ".*").replace("${release}", ".*")
                .replace("$__rate_interval", "1m"))
    for uid, _, _, panels in DASHBOARDS:
        for item in panels:
            for expr, _ in item["queries"]:
                yield {"source": f"{uid}: {item['title']}", "expr": concrete(expr), "fed": item["fed"]}
    for name, expr, *_ in ALERTS:
        yield {"source": f"alert {name}", "expr": expr, "fed": False}


def main():
    if "--queries" in sys.argv:
        for query in queries():
            print(json.dumps(query))
        return
    stale = []
    for path, text in files().items():
        full = os.path.join(ROOT, path)
        current = open(full).read() if os.path.exists(full) else None
        if current == text:
            continue
        if "--check" in sys.argv:
            stale.append(path)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as out:
                out.write(text)
            print("wrote", path)
    if stale:
        print("stale (run make dashboards): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
