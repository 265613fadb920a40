#!/usr/bin/python3
"""Prints what happened in the demo, from the daemon's /_mp/stats and the
fake upstream's /__stats (which counts what really reached "Reddit")."""
import json
import sys
import urllib.request


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)


def main() -> int:
    daemon_port, fake_port, budget, window = sys.argv[1:5]
    stats = fetch(f"http://127.0.0.1:{daemon_port}/_mp/stats")
    upstream = fetch(f"http://127.0.0.1:{fake_port}/__stats")
    totals = stats["totals"]
    print()
    print("== What the clients asked for (daemon /_mp/stats) ==")
    print(f"  requests        {totals['requests']:>6}")
    print(f"  cache hits      {totals['hits']:>6}   (hit ratio {stats['cache']['hitRatio']:.0%})")
    print(f"  coalesced       {totals['coalesced']:>6}")
    print(f"  sent upstream   {totals['upstreamRequests']:>6}")
    print(f"  upstream 429s   {totals['upstream429']:>6}")
    print()
    print(f"== What reached the upstream (budget {budget} per {window} s window) ==")
    worst = upstream["max_per_window"]
    for row in upstream["windows"]:
        count = row["requests"]
        print(f"  window {row['index']:>3}: {count:>4} / {budget}  {'#' * count}")
    too_many = upstream["too_many_requests"]
    print(f"  429 answers: {too_many}; busiest window: {worst} of {budget}")
    ok = too_many == 0 and worst <= int(budget)
    print("  budget respected" if ok else "  BUDGET EXCEEDED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
