#!/usr/bin/python3
"""One demo client: an unmodified PRAW 7 bot routed through praw-multiprocess.

Reads a few shared listings (so other bots' requests become cache hits),
checks who it is, and now and then posts a comment, until its time is up.
Prints one summary line as JSON.
"""
import json
import sys
import time

import praw


def main() -> int:
    port, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    base = f"http://127.0.0.1:{port}"
    reddit = praw.Reddit(client_id="demo-client", client_secret="demo-secret",
                         username=name, password="hunter2",
                         user_agent=f"demo-bot/{name} (praw-multiprocess demo)",
                         oauth_url=base, reddit_url=base)
    counts = {"bot": name, "listings": 0, "me": 0, "comments": 0, "errors": 0}
    subs = ["python", "cpp", "qt", "linux"]
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        try:
            sub = subs[i % len(subs)]
            posts = list(reddit.subreddit(sub).hot(limit=5))
            counts["listings"] += 1
            if reddit.user.me().name != name:
                raise RuntimeError("got another bot's identity")
            counts["me"] += 1
            if i % 5 == 4:
                posts[0].reply(body=f"hello from {name}")
                counts["comments"] += 1
        except Exception as error:  # the demo reports, it does not stop
            counts["errors"] += 1
            print(f"{name}: {error}", file=sys.stderr)
        i += 1
        time.sleep(0.2)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
