#!/usr/bin/env python3
"""Workload (3) of the budget benchmarks: another program spending a share of
every budget window directly at the upstream, outside the daemon. The daemon
only learns of it through the X-Ratelimit-* headers of its own answers.

It sends round(share x budget) requests per window, evenly spread over the
window (the window grid starts at --start, where the upstream's windows were
reset), each a new URL, User-Agent "foreign-consumer". Every request is
logged as JSON lines in --out like selfpacing_client.py.

    foreign_consumer.py --port 8080 --budget 50 --window 5 --share 0.3 --start T --until T2 --out f.jsonl
"""

import argparse
import http.client
import json
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--start", type=float, required=True)
    parser.add_argument("--until", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    per_window = max(1, round(args.share * args.budget))
    step = args.window / per_window
    out = open(args.out, "a", buffering=1)
    conn = http.client.HTTPConnection(args.host, args.port, timeout=30)
    seq = 0
    k = 0
    while True:
        # Request k of the run: window k // per_window, offset half a step in.
        t = args.start + (k // per_window) * args.window + (k % per_window + 0.5) * step
        k += 1
        if t >= args.until:
            break
        if time.time() < t:
            time.sleep(t - time.time())
        seq += 1
        sent = time.time()
        out.write(json.dumps({"e": "send", "c": 0, "i": seq, "t": sent}) + "\n")
        try:
            conn.request("GET", "/r/foreign/new.json?c=0&i=%d" % seq,
                         headers={"User-Agent": "foreign-consumer"})
            resp = conn.getresponse()
            resp.read()
            out.write(json.dumps({"e": "done", "c": 0, "i": seq, "t": time.time(),
                                  "status": resp.status}) + "\n")
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            conn = http.client.HTTPConnection(args.host, args.port, timeout=30)
            out.write(json.dumps({"e": "error", "c": 0, "i": seq, "t": time.time(),
                                  "error": str(error)}) + "\n")
    out.close()


if __name__ == "__main__":
    main()
