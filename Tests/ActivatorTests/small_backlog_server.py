"""A model server as fragile as many real ones: Python's ThreadingHTTPServer with an accept
backlog of 5, HTTP/1.0 (a new connection per request), 20 ms per answer. It counts the requests
it served, so a test can tell a request sent twice from one sent once."""
import http.server
import sys
import threading
import time

served = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        if self.path == "/ready":
            self.answer(b"ready\n")
        elif self.path == "/count":
            self.answer(b"%d\n" % served)
        else:
            time.sleep(0.02)
            with lock:
                served += 1
            self.answer(b"ok\n")

    def answer(self, body):
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 5

    def handle_error(self, request, client_address):
        # A reset from the proxy is its business; say so in one line, not a traceback.
        print("connection error from", client_address, sys.exc_info()[1], file=sys.stderr, flush=True)


server = Server(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print("listening on", server.server_address[1], flush=True)
server.serve_forever()
