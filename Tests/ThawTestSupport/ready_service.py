"""A stand-in for a Kubernetes Service in front of several pods: each new connection goes to a
backend whose /readyz answers 200 (as kube-proxy sends traffic only to ready endpoints), and its
bytes are copied both ways until either side closes.

    python3 ready_service.py HOST:PORT [HOST:PORT ...]    prints "listening PORT"
"""
import http.client
import socket
import sys
import threading


def ready(backend):
    host, port = backend.rsplit(":", 1)
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=0.5)
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def pipe(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, backends):
    chosen = next((backend for backend in backends if ready(backend)), None)
    if chosen is None:
        client.close()  # no ready endpoint: refused, as a Service with none would
        return
    host, port = chosen.rsplit(":", 1)
    try:
        upstream = socket.create_connection((host, int(port)), timeout=2)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def main():
    backends = sys.argv[1:]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("listening", listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, backends), daemon=True).start()


if __name__ == "__main__":
    main()
