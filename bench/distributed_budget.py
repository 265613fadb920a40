#!/usr/bin/env python3
"""Budget utilization of 1, 2 and 4 daemons sharing one budget through Redis.

Starts a redis-server on a free loopback port, the fake upstream
(`fake-reddit`, BUDGET requests per WINDOW seconds) and N `praw-multiprocess`
daemons with --redis, then runs CLIENTS concurrent clients spread over the
daemons for WINDOWS budget windows, every request a new URL (no cache hit).
For each window it reports how many requests the upstream received, as a
share of the budget (utilization), and the 429s. A run without Redis (the
same daemons, each pacing alone) is the baseline that overshoots.

Bounded: about (WINDOWS x WINDOW + 8) seconds per row. Standard library only.

    bench/distributed_budget.py --build-dir build
    bench/distributed_budget.py --budget 20 --window 4 --daemons 2 --reset down,up,down-never-0 --baseline ''
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, wait_port


class Processes:
    """Programs started by this script, stopped (and only those) at the end."""

    def __init__(self):
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="prawmp-bench-")

    def start(self, argv, ready=None, timeout=10.0):
        log = os.path.join(self.tmp, "%d-%s.log" % (len(self.procs), os.path.basename(argv[0])))
        out = open(log, "w")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        if ready is None:
            return proc, None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log) as f:
                for line in f:
                    if ready in line:
                        port = line.rsplit("port", 1)[-1].strip().split()[0] if "port" in line else None
                        return proc, port
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(log) as f:
            sys.exit("%s did not start:\n%s" % (argv[0], f.read()[-2000:]))

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)


def get_json(port, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body)


def run_clients(ports, clients, seconds, tag):
    """CLIENTS threads, one keep-alive connection each, new URL every time."""
    deadline = time.monotonic() + seconds
    statuses = []
    lock = threading.Lock()

    def client(i):
        port = ports[i % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        n = 0
        mine = []
        while time.monotonic() < deadline:
            n += 1
            try:
                conn.request("GET", "/r/bench%d/new.json?run=%s&n=%d" % (i, tag, n),
                             headers={"User-Agent": "bench-client-%d" % i})
                resp = conn.getresponse()
                resp.read()
                mine.append(resp.status)
            except (OSError, http.client.HTTPException):
                mine.append(0)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.close()
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def measure(args, procs, daemons, redis_port, reset="down"):
    fake, fake_port = procs.start([args.fake, "--port", "0", "--budget", str(args.budget),
                                   "--window", str(args.window), "--latency-ms", str(args.latency_ms),
                                   "--reset", reset],
                                  ready="Listening on")
    fake_port = int(fake_port)
    prefix = "bench%d-%d-%s:" % (os.getpid(), daemons, reset)
    ports, started = [], []
    for _ in range(daemons):
        argv = [args.daemon, "--port", "0", "--upstream", "http://127.0.0.1:%d" % fake_port]
        if redis_port:
            argv += ["--redis", "redis://127.0.0.1:%d/0" % redis_port, "--redis-prefix", prefix]
        proc, port = procs.start(argv, ready="Listening on")
        started.append(proc)
        ports.append(int(port))
    if redis_port:
        deadline = time.monotonic() + 10
        while any(get_json(p, "/_mp/health").get("redis") != "ok" for p in ports):
            if time.monotonic() > deadline:
                sys.exit("the daemons did not reach Redis")
            time.sleep(0.1)
        time.sleep(1.5)  # heartbeats: every daemon has seen the others
    # Window 0 of the upstream starts now, with the load.
    get_json(fake_port, "/__reset?budget=1&serials=1", method="POST")
    statuses = run_clients(ports, args.clients, args.windows * args.window, "%d-%s" % (daemons, bool(redis_port)))
    log = get_json(fake_port, "/__log")
    for proc in started + [fake]:
        procs.stop(proc)
    per_window = {}
    rejected = 0
    for r in log:
        w = r.get("window", -1)
        per_window[w] = per_window.get(w, 0) + 1
        if r.get("status") == 429:
            rejected += 1
    counts = [per_window.get(w, 0) for w in range(args.windows)]
    return {
        "daemons": daemons,
        "reset": reset,
        "redis": bool(redis_port),
        "counts": counts,
        "utilization": sum(counts) / (args.budget * args.windows),
        "max": max(per_window.values()) if per_window else 0,
        "rejected": rejected,
        "answered": sum(1 for s in statuses if s == 200),
        "errors": sum(1 for s in statuses if s not in (200, 429)),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(here, "..", "build"))
    parser.add_argument("--daemon", help="the praw-multiprocess program (default: in --build-dir)")
    parser.add_argument("--budget", type=int, default=30, help="requests per window (default 30)")
    parser.add_argument("--window", type=float, default=3.0, help="window seconds (default 3)")
    parser.add_argument("--windows", type=int, default=4, help="windows measured (default 4)")
    parser.add_argument("--clients", type=int, default=30, help="concurrent clients (default 30)")
    parser.add_argument("--latency-ms", type=int, default=0, help="upstream latency per answer (default 0)")
    parser.add_argument("--daemons", default="1,2,4", help="daemon counts (default 1,2,4)")
    parser.add_argument("--reset", default="down",
                        help="how the fake rounds X-Ratelimit-Reset, comma-separated: down, up, down-never-0 "
                             "(default down; the baseline runs with the first)")
    parser.add_argument("--baseline", default="4", help="daemon counts also run without Redis (default 4; '' none)")
    args = parser.parse_args()
    args.daemon = args.daemon or os.path.join(args.build_dir, "daemon", "praw-multiprocess")
    args.fake = os.path.join(args.build_dir, "tests", "fake-reddit")
    redis = shutil.which("redis-server")
    for path in (args.daemon, args.fake):
        if not os.access(path, os.X_OK):
            sys.exit("not built: %s (see --build-dir)" % path)
    if not redis:
        sys.exit("redis-server is not installed (scripts/install-deps)")

    procs = Processes()
    rows = []
    try:
        redis_port = free_port()
        procs.start([redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no"], ready="Ready to accept connections")
        if not wait_port(redis_port):
            sys.exit("redis-server did not start")
        resets = [r for r in args.reset.split(",") if r]
        plan = [(int(n), redis_port, r) for r in resets for n in args.daemons.split(",") if n]
        plan += [(int(n), None, resets[0]) for n in args.baseline.split(",") if n]
        for daemons, port, reset in plan:
            row = measure(args, procs, daemons, port, reset)
            rows.append(row)
            print("%d daemon(s)%s, reset %s: %s" % (daemons, "" if port else " without Redis", reset,
                                                     json.dumps(row)), file=sys.stderr)
    finally:
        procs.stop_all()

    print("Budget %d requests per %g s window, upstream latency %d ms, %d clients, %d windows measured.\n"
          % (args.budget, args.window, args.latency_ms, args.clients, args.windows))
    head = "| daemons | shared through | reset | " + " | ".join("window %d" % (w + 1) for w in range(args.windows))
    print(head + " | utilization | max per window | 429s |")
    print("|" + "---|" * (args.windows + 6))
    for r in rows:
        cells = " | ".join("%d (%d%%)" % (c, round(100 * c / args.budget)) for c in r["counts"])
        print("| %d | %s | %s | %s | %d%% | %d | %d |" % (
            r["daemons"], "Redis" if r["redis"] else "nothing (baseline)", r["reset"], cells,
            round(100 * r["utilization"]), r["max"], r["rejected"]))


if __name__ == "__main__":
    main()
