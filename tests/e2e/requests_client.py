#!/usr/bin/python3
"""A Python `requests` client of the end-to-end test (tests/tst_http_clients_e2e.cpp).

Sends the same request --repeat times through the daemon, origin-form
(--url http://127.0.0.1:DAEMON/path) or absolute-form (--proxy
http://127.0.0.1:DAEMON --url http://upstream/path, with requests' proxies=),
optionally with a bearer token, and prints one JSON object: per answer the
status, X-Cache, Age, and what the body says about who asked
("user" of a listing, "name" of /api/v1/me, "author" of a comment).

  requests_client.py --url URL [--token T] [--method POST --data k=v&k=v]
                     [--proxy URL] [--repeat N] [--user-agent UA]
"""
import argparse
import json
import sys
from urllib.parse import parse_qsl

import requests


def who(body):
    if not isinstance(body, dict):
        return None
    if "user" in body:
        return body["user"]
    if "name" in body:
        return body["name"]
    things = body.get("json", {}).get("data", {}).get("things", [])
    return things[0]["data"].get("author") if things else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--data")
    parser.add_argument("--proxy")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--user-agent", default="prawmp-e2e-requests/1.0")
    args = parser.parse_args()

    session = requests.Session()
    session.trust_env = False  # only the proxy given here, whatever the environment says
    session.headers["User-Agent"] = args.user_agent
    if args.token:
        session.headers["Authorization"] = f"bearer {args.token}"
    proxies = {"http": args.proxy} if args.proxy else None
    data = dict(parse_qsl(args.data)) if args.data else None

    answers = []
    for _ in range(args.repeat):
        response = session.request(args.method, args.url, data=data, proxies=proxies, timeout=30)
        try:
            body = response.json()
        except ValueError:
            body = None
        answers.append({
            "status": response.status_code,
            "x_cache": response.headers.get("X-Cache"),
            "age": response.headers.get("Age"),
            "serial": response.headers.get("X-Fake-Serial"),
            "who": who(body),
            "error": body.get("error") if isinstance(body, dict) else None,
        })
    print(json.dumps({"answers": answers}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
