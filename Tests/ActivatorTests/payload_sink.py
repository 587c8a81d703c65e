"""A CloudEvents sink for the payload-logger tests: prints one JSON line per event it receives
({"headers": {ce-* and content-type}, "body": text}), after an optional delay, answering 202 (or
500 with --fail). Prints "listening on PORT" once bound."""
import argparse, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--delay", type=float, default=0)
parser.add_argument("--fail", action="store_true")
args = parser.parse_args()
lock = threading.Lock()  # one whole line per event, whichever thread prints it


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if args.delay:
            time.sleep(args.delay)
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("ce-") or k.lower() == "content-type"}
        with lock:
            print(json.dumps({"headers": headers, "body": body.decode("utf-8", "replace")}), flush=True)
        self.send_response(500 if args.fail else 202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Sink)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
