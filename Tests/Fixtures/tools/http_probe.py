#!/usr/bin/env python3
"""Raw HTTP/1.1 exchanges a normal client never makes, for tests of `vitrine serve`.
    http_probe.py PORT abort       headers announcing 5 MB, 1 KB of body, then close
    http_probe.py PORT dribble     a body announced as 100 bytes, sent a byte a second
    http_probe.py PORT expect N    Expect: 100-continue with Content-Length N: what comes back first, how soon
    http_probe.py PORT longquery   GET with a 100 KB query string
Prints one JSON object: the status line and body read (if any) and the seconds it took."""
import json
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def read_response(s, limit=65536):
    data = b""
    try:
        while len(data) < limit:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
                if head.startswith(b"HTTP/1.1 100"):
                    break
    except socket.timeout:
        pass
    return data.decode("utf-8", "replace")


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    start = time.time()
    s = connect(port)
    head = "POST /api/v1/search/image HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
    if mode == "abort":
        s.sendall((head + "Content-Length: 5000000\r\n\r\n").encode() + b"x" * 1024)
        time.sleep(0.3)
        s.close()
        print(json.dumps({"seconds": time.time() - start}))
        return
    if mode == "dribble":
        s.sendall((head + "Content-Length: 100\r\n\r\n").encode())
        s.settimeout(1.0)
        answer = ""
        for _ in range(60):
            try:
                s.sendall(b"x")
            except OSError:
                break
            try:
                answer = read_response(s)
            except OSError:
                pass
            if answer:
                break
        print(json.dumps({"response": answer, "seconds": time.time() - start}))
        return
    if mode == "expect":
        s.sendall((head + "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % int(sys.argv[3])).encode())
        s.settimeout(5)
        print(json.dumps({"response": read_response(s), "seconds": time.time() - start}))
        return
    if mode == "longquery":
        s.sendall(("GET /api/v1/search?q=" + "a" * 100_000 + " HTTP/1.1\r\nHost: x\r\n\r\n").encode())
        s.settimeout(10)
        print(json.dumps({"response": read_response(s), "seconds": time.time() - start}))
        return
    raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
