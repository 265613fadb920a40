#!/usr/bin/python3
"""One PRAW 7 bot of the end-to-end test (tests/tst_praw_e2e.cpp).

Builds its praw.Reddit by running a snippet of docs/clients.md as written
("praw-connect": its own account; "praw-shared-token": a token given to
several processes), then reads listings (paged), checks user.me() and posts
comments. PRAW itself is not changed: a requests response hook watches every
HTTP answer (X-Cache, X-Ratelimit-*) and a logging handler counts the sleeps
of PRAW's own rate limiter. Prints one JSON object on the last line.

  praw_bot.py --doc docs/clients.md --port P --username alice [--seconds S] [--client-id ID]
  praw_bot.py --doc docs/clients.md --port P --username dave --token T --reads N
"""
import argparse
import json
import logging
import os
import re
import sys
import time
import traceback
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doc_snippets  # noqa: E402

CLIENT_ID = "prawmp-e2e"
CLIENT_SECRET = "e2e-secret"


class SleepCounter(logging.Handler):
    """Counts prawcore's "Sleeping: X seconds prior to call" (its rate limiter)."""

    PATTERN = re.compile(r"Sleeping: ([0-9.]+) seconds")

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0
        self.seconds = 0.0
        self.longest = 0.0

    def emit(self, record):
        match = self.PATTERN.search(record.getMessage())
        if match:
            seconds = float(match.group(1))
            self.count += 1
            self.seconds += seconds
            self.longest = max(self.longest, seconds)


def build_reddit(args):
    replacements = {"localhost:10101": f"localhost:{args.port}",
                    "YOUR_CLIENT_ID": args.client_id, "YOUR_USERNAME": args.username}
    if args.token:
        name = "praw-shared-token"
        replacements["SHARED_ACCESS_TOKEN"] = args.token
    else:
        name = "praw-connect"
        replacements.update({"YOUR_CLIENT_SECRET": CLIENT_SECRET, "YOUR_PASSWORD": args.password})
    code = doc_snippets.snippet(args.doc, name, replacements)
    namespace = {"__name__": "snippet"}
    exec(compile(code, f"docs/clients.md:{name}", "exec"), namespace)
    return namespace["reddit"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--doc", required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", default="hunter2")
    parser.add_argument("--client-id", default=CLIENT_ID, help="the OAuth app (client id) to log in with")
    parser.add_argument("--token", help="share this access token (implicit auth)")
    parser.add_argument("--seconds", type=float, default=0, help="load phase length")
    parser.add_argument("--reads", type=int, default=2, help="reads of the shared listing")
    parser.add_argument("--shared-sub", default="python")
    parser.add_argument("--comment-every", type=int, default=2)
    args = parser.parse_args()

    sleeps = SleepCounter()
    prawcore_log = logging.getLogger("prawcore")
    prawcore_log.setLevel(logging.DEBUG)
    prawcore_log.addHandler(sleeps)
    prawcore_log.propagate = False

    result = {"username": args.username, "me": [], "shared_reads": [], "private_listings": 0,
              "comments": [], "errors": [], "responses": []}
    started = time.monotonic()

    def on_response(response, *unused_args, **unused_kwargs):
        url = urlsplit(response.request.url)
        result["responses"].append({
            "t": round(time.monotonic() - started, 3),
            "method": response.request.method,
            "path": url.path,
            "query": {k: v for k, v in parse_qsl(url.query) if k != "raw_json"},
            "status": response.status_code,
            "x_cache": response.headers.get("X-Cache"),
            "remaining": response.headers.get("X-Ratelimit-Remaining"),
            "used": response.headers.get("X-Ratelimit-Used"),
            "reset": response.headers.get("X-Ratelimit-Reset"),
        })

    def attempt(what, function):
        try:
            return function()
        except Exception as error:  # every failure is reported, the run goes on
            result["errors"].append(f"{what}: {type(error).__name__}: {error}")
            traceback.print_exc()
            return None

    reddit = build_reddit(args)
    # The transport PRAW's requestor uses; the hook only observes.
    reddit._core._requestor._http.hooks["response"].append(on_response)

    def check_me():
        name = str(reddit.user.me())
        result["me"].append(name)

    def read_shared():
        posts = list(reddit.subreddit(args.shared_sub).hot(limit=150))
        result["shared_reads"].append(len(posts))
        return posts

    attempt("user.me", check_me)
    posts = None
    for _ in range(max(1, args.reads)):
        posts = attempt("shared listing", read_shared) or posts

    i = 0
    deadline = started + args.seconds
    while args.seconds > 0 and time.monotonic() < deadline:
        def private_round(i=i):
            # A listing nobody else reads: it has to reach the upstream.
            listing = list(reddit.subreddit(f"{args.username}_{i}").new(limit=10))
            if len(listing) != 10:
                raise RuntimeError(f"listing of {len(listing)} items")
            result["private_listings"] += 1
            if i % args.comment_every == 0:
                comment = listing[0].reply(body=f"comment {i} from {args.username}")
                result["comments"].append({"id": comment.id, "author": str(comment.author),
                                           "parent": listing[0].fullname})
            if i % 5 == 4:
                read_shared()
            if i % 4 == 3:
                check_me()
        attempt(f"round {i}", private_round)
        i += 1
    attempt("user.me", check_me)

    result["rounds"] = i
    result["elapsed"] = round(time.monotonic() - started, 3)
    result["praw_sleeps"] = {"count": sleeps.count, "seconds": round(sleeps.seconds, 3),
                             "longest": round(sleeps.longest, 3)}
    print(json.dumps(result))
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
