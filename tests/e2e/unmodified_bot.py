#!/usr/bin/python3
"""A PRAW 7 program that knows nothing of praw-multiprocess (tests/tst_praw_e2e.cpp).

It passes no oauth_url/reddit_url: the praw.ini of docs/clients.md (the
"praw-ini" snippet) is what sends it through the daemon. Credentials come
from the environment (CLIENT_ID, CLIENT_SECRET, REDDIT_USERNAME,
REDDIT_PASSWORD). Prints one JSON object.
"""
import json
import os

import praw

reddit = praw.Reddit(
    client_id=os.environ["CLIENT_ID"],
    client_secret=os.environ["CLIENT_SECRET"],
    username=os.environ["REDDIT_USERNAME"],
    password=os.environ["REDDIT_PASSWORD"],
    user_agent="unmodified-bot/1.0",
)
me = reddit.user.me()
posts = list(reddit.subreddit("python").new(limit=5))
print(json.dumps({"me": str(me), "posts": len(posts),
                  "oauth_url": reddit.config.oauth_url, "reddit_url": reddit.config.reddit_url}))
