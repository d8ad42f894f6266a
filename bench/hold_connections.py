#!/usr/bin/env python3
"""Open N keep-alive client connections to a proxy and hold them idle, for proxy.sh's memory figure.

    hold_connections.py HOST PORT N PATH

Each connection sends one GET for PATH and reads the whole response, so the proxy holds it as an
idle keep-alive connection (the state a browser leaves it in), not as a half-open socket.
Prints "ready <open connections>" once all are idle, then holds them until a SIGTERM arrives.
Connects in batches so the listen backlog never overflows; gives up after 60 s.
"""
import selectors
import signal
import socket
import sys
import time

BATCH = 200
DEADLINE_S = 60


class Conn:
    def __init__(self, sock, request):
        self.sock = sock
        self.out = request
        self.buf = b""
        self.done = False

    def on_write(self):
        sent = self.sock.send(self.out)
        self.out = self.out[sent:]

    def on_read(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the proxy before the response ended")
        self.buf += chunk
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        length = 0
        for line in self.buf[:head_end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.done = len(self.buf) >= head_end + 4 + length


def open_batch(sel, host, port, count, request):
    conns = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        c = Conn(s, request)
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ, c)
        conns.append(c)
    return conns


def run_batch(sel, conns, deadline):
    pending = len(conns)
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending} connections still waiting for a response")
        for key, mask in sel.select(timeout=1):
            c = key.data
            if mask & selectors.EVENT_WRITE and c.out:
                c.on_write()
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if mask & selectors.EVENT_READ:
                c.on_read()
                if c.done:
                    sel.unregister(c.sock)
                    pending -= 1


def main():
    host, port, total, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + DEADLINE_S
    held = []
    try:
        while len(held) < total:
            batch = open_batch(sel, host, port, min(BATCH, total - len(held)), request)
            held += batch
            run_batch(sel, batch, deadline)
    except (OSError, TimeoutError) as e:
        print(f"hold_connections: {len(held)} of {total} opened: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"ready {len(held)}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
