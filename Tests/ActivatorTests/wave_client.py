"""Thousands of clients for BufferedMemoryTests, in their own process: a test process that holds
thousands of descriptors breaks Foundation's Process.run for every other test that starts a
program (it copies descriptors into a fixed-size set). Opens COUNT connections to 127.0.0.1:PORT,
each sending one GET, prints "sent"; once the file DIR/read exists reads every answer's head and
prints "answered N" (N the 200s); once DIR/close exists closes them all and prints "closed"."""
import os
import resource
import socket
import sys
import time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count, control = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def wait_for(name):
    while not os.path.exists(os.path.join(control, name)):
        time.sleep(0.05)


connections = []
for index in range(count):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(b"GET /predict/%d HTTP/1.1\r\nHost: wave.local\r\nUser-Agent: thaw-test\r\nAccept: */*\r\n\r\n" % index)
    connections.append(connection)
print("sent", flush=True)
wait_for("read")
answered = 0
for connection in connections:
    connection.settimeout(30)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = connection.recv(4096)
        if not chunk:
            break
        head += chunk
    answered += head.startswith(b"HTTP/1.1 200")
print("answered", answered, flush=True)
wait_for("close")
for connection in connections:
    connection.close()
print("closed", flush=True)
