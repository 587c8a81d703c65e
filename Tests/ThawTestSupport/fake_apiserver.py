#!/usr/bin/env python3
"""A small Kubernetes API server for Thaw's tests: real paths, JSON shapes and protocol rules.

No kube-apiserver runs on the test machines, so the Kubernetes code is tested against this, and
this is checked by pointing the real kubectl at it (Tests/KubernetesFakeTests). It speaks:
HTTPS with a bearer token or a client certificate; /version, legacy discovery (/api, /apis, /api/v1, /apis/GROUP/VERSION);
LIST, GET, POST (create), PUT (update, 409 on a stale resourceVersion), PATCH (merge, strategic
merge as merge, apply as merge), DELETE; the scale subresource of Deployments and StatefulSets;
WATCH as newline-delimited JSON events from a resourceVersion, with bookmarks, 410 Gone for a
version older than the event history it keeps, and timeoutSeconds; Status bodies for every error.
Faults a test asks for (POST, with the same token): /fake/throttle?count=N&retryAfter=S[&path=P] answers
the next N API requests (whose path starts with P) 429 with Retry-After: S; /fake/cut-watches ends every open watch mid-stream,
without the chunked body's end, as a dropped connection does; /fake/token?token=T accepts only T
from then on (a rotated service-account token, the old one revoked).
Lists page with limit and continue (from a snapshot; an unknown token is 410 Expired).
Not served: EndpointSlices, KEDA's ScaledObjects (a cluster without KEDA: 404).
State lives in memory; resourceVersions count up from one counter, as etcd revisions do.

Usage: fake_apiserver.py --cert CERT --key KEY --token TOKEN [--port 0] [--history N]
Prints "listening PORT" once it serves.
"""
import argparse
import copy
import json
import re
import ssl
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# (group, version, plural) -> kind, namespaced, has a scale subresource
RESOURCES = {
    ("", "v1", "pods"): ("Pod", True, False),
    ("", "v1", "services"): ("Service", True, False),
    ("", "v1", "namespaces"): ("Namespace", False, False),
    ("apps", "v1", "deployments"): ("Deployment", True, True),
    ("apps", "v1", "statefulsets"): ("StatefulSet", True, True),
    ("events.k8s.io", "v1", "events"): ("Event", True, False),
    ("coordination.k8s.io", "v1", "leases"): ("Lease", True, False),
    ("autoscaling", "v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True, False),
    ("", "v1", "serviceaccounts"): ("ServiceAccount", True, False),
    ("", "v1", "configmaps"): ("ConfigMap", True, False),
    ("rbac.authorization.k8s.io", "v1", "roles"): ("Role", True, False),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"): ("RoleBinding", True, False),
    ("rbac.authorization.k8s.io", "v1", "clusterroles"): ("ClusterRole", False, False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"): ("ClusterRoleBinding", False, False),
    ("policy", "v1", "poddisruptionbudgets"): ("PodDisruptionBudget", True, False),
    ("networking.k8s.io", "v1", "networkpolicies"): ("NetworkPolicy", True, False),
    # KEDA's CRD, as a cluster with KEDA installed serves it.
    ("keda.sh", "v1alpha1", "scaledobjects"): ("ScaledObject", True, False),
}
SHORT_NAMES = {"pods": ["po"], "services": ["svc"], "namespaces": ["ns"], "deployments": ["deploy"], "statefulsets": ["sts"],
               "events": ["ev"], "leases": [], "horizontalpodautoscalers": ["hpa"], "serviceaccounts": ["sa"], "configmaps": ["cm"],
               "roles": [], "rolebindings": [], "clusterroles": [], "clusterrolebindings": [], "poddisruptionbudgets": ["pdb"],
               "networkpolicies": ["netpol"], "scaledobjects": ["so"]}


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, history):
        self.lock = threading.Condition()
        self.revision = 1
        self.objects = {}  # (group, version, plural, namespace, name) -> object
        self.events = []  # (revision, type, key, object)
        self.history = history
        for name in ("default", "kube-system"):  # what every cluster starts with
            self.revision += 1
            self.objects[("", "v1", "namespaces", "", name)] = {
                "kind": "Namespace", "apiVersion": "v1", "status": {"phase": "Active"},
                "metadata": {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now(), "resourceVersion": str(self.revision)}}

    def key(self, resource, namespace, name):
        return resource + (namespace or "", name)

    def record(self, kind, key, obj):
        self.events.append((int(obj["metadata"]["resourceVersion"]), kind, key, copy.deepcopy(obj)))
        del self.events[:-self.history]
        self.lock.notify_all()

    def next_revision(self):
        self.revision += 1
        return str(self.revision)

    def oldest_watchable(self):
        return self.events[0][0] - 1 if len(self.events) >= self.history else 0


class Failure(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def merge(target, patch):
    """RFC 7386 merge patch (null removes a key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # strategic-merge directives: not needed for the fields Thaw writes
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "thaw-fake-apiserver"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write(f"fake-apiserver {datetime.now(timezone.utc).strftime('%H:%M:%S.%f')[:-3]}: " + (fmt % args) + "\n")

    # --- plumbing ---
    def send_json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def fail(self, failure):
        self.send_json(failure.code, status(failure.code, failure.reason, failure.message))

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise Failure(400, "BadRequest", "the request body is not JSON")

    def handle_any(self, method):
        try:
            # A client certificate the CA signed logs in as its CN, as the API server's x509 authenticator does.
            certified = self.server.client_ca and self.connection.getpeercert()
            if self.headers.get("Authorization") != "Bearer " + self.server.token and not certified:
                raise Failure(401, "Unauthorized", "Unauthorized")
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if url.path.startswith("/fake/"):
                return self.fault(url.path, query)
            with self.server.faults:
                throttled = self.server.throttle > 0 and url.path.startswith(self.server.throttle_path)
                if throttled:
                    self.server.throttle -= 1
            if throttled:
                data = json.dumps(status(429, "TooManyRequests", "the server has received too many requests and has asked us to try again later")).encode()
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", str(self.server.retry_after))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.route(method, url.path.rstrip("/") or "/", query)
        except Failure as failure:
            self.fail(failure)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def fault(self, path, query):
        if path == "/fake/throttle":
            with self.server.faults:
                self.server.throttle = int(query.get("count", "1"))
                self.server.retry_after = int(query.get("retryAfter", "1"))
                self.server.throttle_path = query.get("path", "/")
        elif path == "/fake/token":
            with self.server.faults:
                self.server.token = query["token"]
        elif path == "/fake/cut-watches":
            with self.server.faults:
                self.server.cut_generation += 1
        else:
            raise Failure(404, "NotFound", f"no fault {path}")
        self.send_json(200, {"ok": True})

    do_GET = lambda self: self.handle_any("GET")
    do_POST = lambda self: self.handle_any("POST")
    do_PUT = lambda self: self.handle_any("PUT")
    do_PATCH = lambda self: self.handle_any("PATCH")
    do_DELETE = lambda self: self.handle_any("DELETE")

    # --- discovery ---
    def route(self, method, path, query):
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-thaw-fake", "platform": "linux/amd64"})
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            groups = sorted({(g, v) for g, v, _ in RESOURCES if g})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in groups]})
        match = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
        if match:
            group, version = ("", match.group(1)) if match.group(1) else (match.group(2), match.group(3))
            return self.send_json(200, self.resource_list(group, version))
        match = re.fullmatch(r"/api/v1(/.*)|/apis/([^/]+)/([^/]+)(/.*)", path)
        if not match:
            raise Failure(404, "NotFound", f"the server could not find the requested resource ({path})")
        if match.group(1):
            group, version, rest = "", "v1", match.group(1)
        else:
            group, version, rest = match.group(2), match.group(3), match.group(4)
        parts = rest.strip("/").split("/")
        namespace = None
        # namespaces/NS/RESOURCE[/NAME[/SUB]] is namespaced; namespaces[/NAME] is the Namespace itself.
        if parts[0] == "namespaces" and len(parts) >= 3:
            namespace, parts = parts[1], parts[2:]
        plural = parts[0]
        resource = (group, version, plural)
        if resource not in RESOURCES:
            raise Failure(404, "NotFound", f"the server could not find the requested resource ({path})")
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if sub not in (None, "scale", "status") or (sub == "scale" and not RESOURCES[resource][2]):
            raise Failure(404, "NotFound", f"the server could not find the requested resource ({path})")
        self.audit(method, group, plural, name, sub, query)
        self.resource(method, resource, namespace, name, sub, query)

    def audit(self, method, group, plural, name, sub, query):
        """One line per request to a resource, as RBAC sees it: VERB GROUP RESOURCE[/SUBRESOURCE]."""
        if not self.server.audit:
            return
        verbs = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        verb = verbs.get(self.command) or ("watch" if query.get("watch") in ("1", "true") else "get" if name else "list")
        with self.server.faults:
            with open(self.server.audit, "a") as log:
                log.write(f"{verb} {group or 'core'} {plural}{'/' + sub if sub else ''}\n")

    def resource_list(self, group, version):
        resources = []
        for (g, v, plural), (kind, namespaced, scalable) in sorted(RESOURCES.items()):
            if (g, v) != (group, version):
                continue
            resources.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                              "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                              "shortNames": SHORT_NAMES.get(plural, [])})
            if scalable:
                resources.append({"name": f"{plural}/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                                  "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
            resources.append({"name": f"{plural}/status", "singularName": "", "namespaced": namespaced, "kind": kind,
                              "verbs": ["get", "patch", "update"]})
        if not resources:
            raise Failure(404, "NotFound", f"the server could not find the requested resource ({group}/{version})")
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    # --- objects ---
    def resource(self, method, resource, namespace, name, sub, query):
        store = self.server.store
        kind, namespaced, _ = RESOURCES[resource]
        api_version = f"{resource[0]}/{resource[1]}" if resource[0] else resource[1]
        if method == "GET" and name is None:
            if query.get("watch") in ("1", "true"):
                return self.watch(resource, namespace, query)
            token = query.get("continue")
            if token:
                # The next page of a paged list, from the snapshot its first page was cut from.
                with self.server.faults:
                    snapshot = self.server.pages.pop(token, None)
                if snapshot is None:
                    raise Failure(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
                items, revision = snapshot
            else:
                with store.lock:
                    items = [copy.deepcopy(o) for k, o in sorted(store.objects.items())
                             if k[:3] == resource and (namespace is None or k[3] == namespace) and self.selected(o, query)]
                    revision = str(store.revision)
                for item in items:  # a real list's items carry no kind or apiVersion: the list says them once
                    item.pop("kind", None)
                    item.pop("apiVersion", None)
            metadata = {"resourceVersion": revision}
            limit = int(query.get("limit") or 0)
            if limit > 0 and len(items) > limit:
                items, rest = items[:limit], items[limit:]
                next_token = uuid.uuid4().hex
                with self.server.faults:
                    self.server.pages[next_token] = (rest, revision)
                metadata["continue"] = next_token
                metadata["remainingItemCount"] = len(rest)
            return self.send_json(200, {"kind": kind + "List", "apiVersion": api_version, "metadata": metadata, "items": items})
        if name is None and method != "POST":
            raise Failure(405, "MethodNotAllowed", f"{method} is not allowed on a list of {resource[2]}")
        body = self.body() if method in ("POST", "PUT", "PATCH") else None
        with store.lock:
            if method == "POST":
                if name is not None:
                    raise Failure(405, "MethodNotAllowed", "POST creates: send it to the collection")
                obj = body or {}
                meta = obj.setdefault("metadata", {})
                name = meta.get("name") or (meta.get("generateName", "") + uuid.uuid4().hex[:5])
                key = store.key(resource, namespace, name)
                if key in store.objects:
                    raise Failure(409, "AlreadyExists", f'{resource[2]} "{name}" already exists')
                self.ensure_namespace(namespace)  # first: events must stay in resourceVersion order
                obj = self.stamp(obj, kind, api_version, namespace if namespaced else None, name, created=True)
                store.objects[key] = obj
                store.record("ADDED", key, obj)
                return self.send_json(201, obj)
            key = store.key(resource, namespace, name)
            current = store.objects.get(key)
            if current is None:
                if method == "PATCH" and self.headers.get("Content-Type", "").startswith("application/apply-patch"):
                    self.ensure_namespace(namespace)
                    obj = self.stamp(body or {}, kind, api_version, namespace if namespaced else None, name, created=True)
                    store.objects[key] = obj
                    store.record("ADDED", key, obj)
                    return self.send_json(201, obj)
                raise Failure(404, "NotFound", f'{resource[2]}{"." + resource[0] if resource[0] else ""} "{name}" not found')
            if sub == "scale":
                return self.scale(method, resource, key, current, body, namespace, name)
            if method == "GET":
                return self.send_json(200, copy.deepcopy(current))
            if method == "DELETE":
                del store.objects[key]
                current = copy.deepcopy(current)
                current["metadata"]["resourceVersion"] = store.next_revision()
                store.record("DELETED", key, current)
                return self.send_json(200, current)
            if method == "PUT":
                sent = (body or {}).get("metadata", {}).get("resourceVersion")
                if sent and sent != current["metadata"]["resourceVersion"]:
                    raise Failure(409, "Conflict", f'Operation cannot be fulfilled on {resource[2]} "{name}": the object has been modified; please apply your changes to the latest version and try again')
                updated = body
            else:  # PATCH
                updated = merge(current, body or {})
            updated = self.stamp(updated, kind, api_version, namespace if namespaced else None, name,
                                 created=False, previous=current)
            store.objects[key] = updated
            store.record("MODIFIED", key, updated)
            return self.send_json(200, updated)

    def ensure_namespace(self, namespace):
        """A real API server refuses objects in a namespace that does not exist; the fake creates it,
        so a test need not, and kubectl's "namespace not found" hints stay true."""
        store = self.server.store
        key = store.key(("", "v1", "namespaces"), None, namespace) if namespace else None
        if key and key not in store.objects:
            obj = self.stamp({"metadata": {}, "status": {"phase": "Active"}}, "Namespace", "v1", None, namespace, created=True)
            store.objects[key] = obj
            store.record("ADDED", key, obj)

    def scale(self, method, resource, key, current, body, namespace, name):
        store = self.server.store

        def as_scale(obj):
            selector = ",".join(f"{k}={v}" for k, v in sorted(
                obj.get("spec", {}).get("selector", {}).get("matchLabels", {}).items()))
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {"name": name, "namespace": namespace, "uid": obj["metadata"]["uid"],
                                 "resourceVersion": obj["metadata"]["resourceVersion"],
                                 "creationTimestamp": obj["metadata"]["creationTimestamp"]},
                    "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
                    "status": {"replicas": obj.get("status", {}).get("replicas", 0), "selector": selector}}

        if method == "GET":
            return self.send_json(200, as_scale(current))
        if method not in ("PUT", "PATCH"):
            raise Failure(405, "MethodNotAllowed", f"{method} is not allowed on the scale subresource")
        if method == "PUT":
            sent = (body or {}).get("metadata", {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise Failure(409, "Conflict", f'Operation cannot be fulfilled on {resource[2]}.{resource[0]} "{name}": the object has been modified; please apply your changes to the latest version and try again')
            replicas = (body or {}).get("spec", {}).get("replicas")
        else:
            replicas = merge(as_scale(current), body or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise Failure(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0')
        updated = copy.deepcopy(current)
        updated.setdefault("spec", {})["replicas"] = replicas
        updated = self.stamp(updated, updated["kind"], updated["apiVersion"], namespace, name, created=False, previous=current)
        store.objects[key] = updated
        store.record("MODIFIED", key, updated)
        return self.send_json(200, as_scale(updated))

    def stamp(self, obj, kind, api_version, namespace, name, created, previous=None):
        obj = copy.deepcopy(obj)
        obj["kind"], obj["apiVersion"] = kind, api_version
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        if namespace is not None:
            meta["namespace"] = namespace
        if created:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
        else:
            for field in ("uid", "creationTimestamp"):
                meta[field] = previous["metadata"][field]
            meta["generation"] = previous["metadata"].get("generation", 1) + (
                1 if obj.get("spec") != previous.get("spec") else 0)
        meta["resourceVersion"] = self.server.store.next_revision()
        return obj

    @staticmethod
    def selected(obj, query):
        labels = obj.get("metadata", {}).get("labels", {}) or {}
        for term in filter(None, (query.get("labelSelector") or "").split(",")):
            if "!=" in term:
                k, v = term.split("!=", 1)
                if labels.get(k) == v:
                    return False
            elif "=" in term:
                k, v = term.split("=", 1)
                if labels.get(k.rstrip("=")) != v:
                    return False
            elif term.startswith("!"):
                if term[1:] in labels:
                    return False
            elif term not in labels:
                return False
        for term in filter(None, (query.get("fieldSelector") or "").split(",")):
            k, v = term.split("=", 1)
            if k == "metadata.name" and obj["metadata"]["name"] != v:
                return False
            if k == "metadata.namespace" and obj["metadata"].get("namespace") != v:
                return False
        return True

    # --- watch ---
    def watch(self, resource, namespace, query):
        store = self.server.store
        timeout = min(float(query.get("timeoutSeconds") or 1800), 1800)
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        start = query.get("resourceVersion") or ""
        initial = []
        expired = None
        with store.lock:
            if start in ("", "0"):
                # Unset or "0": the current state first, as synthetic ADDED events, then every change.
                since = store.revision
                initial = [copy.deepcopy(o) for k, o in sorted(store.objects.items())
                           if k[:3] == resource and (namespace is None or k[3] == namespace) and self.selected(o, query)]
            else:
                since = int(start)
                if since < store.oldest_watchable():
                    # As a real API server does: 200, then one ERROR event carrying a 410 Status.
                    expired = status(410, "Expired", f"too old resource version: {since} ({store.oldest_watchable() + 1})")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(event):
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        end = time.monotonic() + timeout
        last_bookmark = time.monotonic()
        generation = self.server.cut_generation
        try:
            if expired:
                send({"type": "ERROR", "object": expired})
                end = 0
            for obj in initial:
                send({"type": "ADDED", "object": obj})
            while time.monotonic() < end:
                if self.server.cut_generation != generation:
                    # A dropped connection: no final chunk, the socket just closes.
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                with store.lock:
                    def matching():
                        return [(rv, t, k, o) for rv, t, k, o in store.events
                                if rv > since and k[:3] == resource and (namespace is None or k[3] == namespace)
                                and self.selected(o, query)]
                    pending = matching()
                    if not pending:
                        store.lock.wait(timeout=0.2)
                        # Looked at again under the same lock as the revision: a bookmark at `current`
                        # must never pass over an event that came in during the wait.
                        pending = matching()
                        current = store.revision
                for rv, kind, _, obj in pending:
                    send({"type": kind, "object": obj})
                    since = rv
                if not pending and bookmarks and time.monotonic() - last_bookmark > self.server.bookmark_interval:
                    since = max(since, current)
                    send({"type": "BOOKMARK", "object": {"kind": RESOURCES[resource][0],
                                                         "apiVersion": f"{resource[0]}/{resource[1]}" if resource[0] else resource[1],
                                                         "metadata": {"resourceVersion": str(since)}}})
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def preload(store, path):
    """Objects a benchmark starts with, stored as if created, without a watch event each."""
    by_kind = {(f"{g}/{v}" if g else v, kind): (g, v, plural) for (g, v, plural), (kind, _, _) in RESOURCES.items()}
    with open(path) as f:
        items = json.load(f)["items"]
    created = now()
    for obj in items:
        resource = by_kind[(obj["apiVersion"], obj["kind"])]
        meta = obj.setdefault("metadata", {})
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=created, generation=1, resourceVersion=store.next_revision())
        store.objects[store.key(resource, meta.get("namespace"), meta["name"])] = obj


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--client-ca", help="accept client certificates this CA signed, instead of the token")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--history", type=int, default=1000, help="watch events kept; older versions get 410 Gone")
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--audit", help="append one line per resource request (VERB GROUP RESOURCE) to this file")
    parser.add_argument("--preload", help="a JSON file {\"items\": [...]} of objects (with apiVersion and kind) to start with")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.store, server.token, server.verbose, server.audit = Store(args.history), args.token, args.verbose, args.audit
    if args.preload:
        preload(server.store, args.preload)
    server.bookmark_interval = args.bookmark_interval
    server.faults = threading.Lock()
    server.throttle, server.retry_after, server.throttle_path, server.cut_generation = 0, 1, "/", 0
    server.pages = {}  # continue token -> (the rest of a paged list, its resourceVersion)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.client_ca = args.client_ca
    if args.client_ca:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(args.client_ca)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
