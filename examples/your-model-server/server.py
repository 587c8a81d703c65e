"""The smallest model server Thaw can run: answers readiness at GET /ping once its "model" is
loaded, and predictions at POST /predict. Replace the body of `predict` with your model."""
import argparse
import http.server
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--load-seconds", type=float, default=1.0)
arguments = parser.parse_args()
loaded_at = time.time() + arguments.load_seconds  # stands in for loading weights


def predict(inputs):
    return {"outputs": [sum(row) if isinstance(row, list) else row for row in inputs]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            ready = time.time() >= loaded_at
            self.answer(200 if ready else 503, {"status": "ready" if ready else "loading"})
        else:
            self.answer(404, {"error": f"no {self.path}; POST /predict"})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            self.answer(200, predict(request.get("inputs", [])))
        except (ValueError, TypeError) as error:
            self.answer(400, {"error": str(error)})

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler).serve_forever()
