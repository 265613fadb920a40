#!/usr/bin/env python3
"""Alternative (c) of the budget benchmarks: one API client process that paces
itself from the X-Ratelimit-* headers, with no daemon -- what every PRAW
script does on its own.

The pacing is prawcore's own RateLimiter (Debian's python3-prawcore, the
library under PRAW) when it can be imported, otherwise the same rule copied
from prawcore 2.3: after each answer, wait until
    min(reset, now + max(min((reset_seconds - remaining) / 2, 10), 0)),
or until the reset when nothing remains.

Each request is a new URL at the upstream (no cache). Every request is
logged as two JSON lines in --out: {"e": "send", ...} then {"e": "done", ...}.

    selfpacing_client.py --port 8080 --client 3 --tag c1 --start T --until T2 --out f.jsonl
    selfpacing_client.py ... --at T1,T2,T3        # one request at each of these times (bursts)
"""

import argparse
import http.client
import json
import signal
import sys
import time

try:
    from prawcore.rate_limit import RateLimiter  # the real thing
    PACER = "prawcore " + __import__("prawcore").__version__
except Exception:  # pragma: no cover - only without python3-prawcore
    PACER = "prawcore 2.3 rule (copy)"

    class RateLimiter:
        def __init__(self):
            self.remaining = None
            self.next_request_timestamp = None
            self.reset_timestamp = None
            self.used = None

        def call(self, request_function, set_header_callback, *args, **kwargs):
            self.delay()
            kwargs["headers"] = set_header_callback()
            response = request_function(*args, **kwargs)
            self.update(response.headers)
            return response

        def delay(self):
            if self.next_request_timestamp is None:
                return
            sleep_seconds = self.next_request_timestamp - time.time()
            if sleep_seconds > 0:
                time.sleep(sleep_seconds)

        def update(self, response_headers):
            if "x-ratelimit-remaining" not in response_headers:
                if self.remaining is not None:
                    self.remaining -= 1
                    self.used += 1
                return
            now = time.time()
            seconds_to_reset = int(response_headers["x-ratelimit-reset"])
            self.remaining = float(response_headers["x-ratelimit-remaining"])
            self.used = int(response_headers["x-ratelimit-used"])
            self.reset_timestamp = now + seconds_to_reset
            if self.remaining <= 0:
                self.next_request_timestamp = self.reset_timestamp
                return
            self.next_request_timestamp = min(
                self.reset_timestamp,
                now + max(min((seconds_to_reset - self.remaining) / 2, 10), 0))


class Answer:
    """What prawcore's RateLimiter reads: .headers (case-insensitive) and .status."""

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", type=int, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--start", type=float, required=True, help="epoch seconds to begin")
    parser.add_argument("--until", type=float, required=True, help="epoch seconds to stop sending")
    parser.add_argument("--at", default="", help="comma-separated epoch times: one request at each")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    out = open(args.out, "a", buffering=1)
    signal.signal(signal.SIGTERM, lambda *_: (out.flush(), sys.exit(0)))
    limiter = RateLimiter()
    conn = None
    seq = 0

    def fetch(path, headers):
        nonlocal conn
        for attempt in range(2):
            if conn is None:
                conn = http.client.HTTPConnection(args.host, args.port, timeout=120)
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                return Answer(resp.status, resp.headers)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                if attempt:
                    raise

    def one():
        nonlocal seq
        seq += 1
        path = "/r/%s/new.json?c=%d&i=%d" % (args.tag, args.client, seq)
        headers = {"User-Agent": "bench-%s-%d" % (args.tag, args.client)}
        sent = {}

        def set_headers():
            # Called by the limiter after its sleep: this is when the request leaves.
            sent["t"] = time.time()
            out.write(json.dumps({"e": "send", "c": args.client, "i": seq, "t": sent["t"]}) + "\n")
            return headers

        try:
            answer = limiter.call(fetch, set_headers, path)
            out.write(json.dumps({"e": "done", "c": args.client, "i": seq, "t": time.time(),
                                  "status": answer.status}) + "\n")
        except Exception as error:  # connection trouble: counted as unanswered
            out.write(json.dumps({"e": "error", "c": args.client, "i": seq, "t": time.time(),
                                  "error": str(error)}) + "\n")

    delay = args.start - time.time()
    if delay > 0:
        time.sleep(delay)
    if args.at:
        for t in [float(x) for x in args.at.split(",") if x]:
            if time.time() < t:
                time.sleep(t - time.time())
            if time.time() >= args.until:
                break
            one()
    else:
        while time.time() < args.until:
            one()
    out.close()


if __name__ == "__main__":
    main()
