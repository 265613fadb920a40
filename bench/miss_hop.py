#!/usr/bin/env python3
"""What the serving threads add to a miss: sequential misses (new URLs) on
one keep-alive connection, a daemon with --threads 2 (the serving thread
passes each miss to the main thread and writes its answer) beside one with
--threads 0 (the main thread reads and answers) and the fake upstream asked
directly, rounds interleaved. Prints p50/p90/p99 per target and round.

    bench/miss_hop.py --build-dir build [--requests 300] [--rounds 2]
"""
import argparse
import os
import socket
import subprocess
import sys
import time


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_answer(sock):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
        if b"\r\n\r\n" not in buf:
            continue
        head, _, body = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(body) >= length:
            return head.split(b"\r\n")[0]


def misses(port, tag, n):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(10)
    lat = []
    for i in range(n):
        request = ("GET /r/hop%d_%s/about.json HTTP/1.1\r\nHost: x\r\n\r\n" % (i, tag)).encode()
        t = time.perf_counter()
        sock.sendall(request)
        status = read_answer(sock)
        lat.append((time.perf_counter() - t) * 1e6)
        if b" 200 " not in status + b" ":
            raise RuntimeError("answer %r" % status)
    sock.close()
    lat.sort()
    return lat[n // 2], lat[int(n * 0.9)], lat[min(n - 1, int(n * 0.99))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", default="build")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    fake_port = free_port()
    procs = [subprocess.Popen([os.path.join(a.build_dir, "tests", "fake-reddit"), "--port", str(fake_port),
                               "--budget", "100000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_port(fake_port)
        daemons = {}
        for threads in (2, 0):
            port = free_port()
            procs.append(subprocess.Popen([os.path.join(a.build_dir, "daemon", "praw-multiprocess"), "--port", str(port),
                                           "--upstream", "http://127.0.0.1:%d/" % fake_port, "--rate-mode", "fixed",
                                           "--delay", "0", "--threads", str(threads)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(port)
            daemons["daemon `--threads %d`" % threads] = port
        daemons["fake upstream, directly"] = fake_port
        print("| round | asked | p50 | p90 | p99 |")
        print("|---|---|---|---|---|")
        for r in range(a.rounds):
            for i, (label, port) in enumerate(daemons.items()):
                p50, p90, p99 = misses(port, "r%d_%d" % (r, i), a.requests)
                print("| %d | %s | %.0f µs | %.0f µs | %.0f µs |" % (r + 1, label, p50, p90, p99))
                sys.stdout.flush()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
