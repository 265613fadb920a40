#!/usr/bin/python3
"""The copy-paste snippets of docs/clients.md, as the end-to-end tests run them.

A snippet is the fenced code block that follows a line
``<!-- snippet: NAME -->`` (blank lines may sit between them). The tests run
snippets as written, replacing only placeholders, literally, each of which
must occur in the snippet (so a doc edit that drops one fails the test
instead of silently testing something else):

    doc_snippets.py DOC NAME [OLD=NEW ...]   print the snippet, substituted
    doc_snippets.py DOC --list               print the snippet names
    doc_snippets.py DOC --compare OTHER      exit 1 when a snippet that OTHER
                                             (README.md) also has differs

Also a module: ``snippet(doc, name, {old: new})`` for the Python harnesses.
"""
import re
import sys

_MARKER = re.compile(r"^<!--\s*snippet:\s*([A-Za-z0-9_.-]+)\s*-->\s*$")
_FENCE = re.compile(r"^(```+|~~~+)")


class SnippetError(Exception):
    pass


def snippets(doc_path):
    """All snippets of a Markdown file: {name: code}."""
    with open(doc_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    found = {}
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i].strip())
        i += 1
        if not marker:
            continue
        name = marker.group(1)
        while i < len(lines) and not lines[i].strip():
            i += 1
        fence = _FENCE.match(lines[i].strip()) if i < len(lines) else None
        if not fence:
            raise SnippetError(f"{doc_path}: snippet {name!r} is not followed by a code fence")
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise SnippetError(f"{doc_path}: snippet {name!r} has no closing fence")
        i += 1
        if name in found:
            raise SnippetError(f"{doc_path}: snippet {name!r} appears twice")
        found[name] = "\n".join(body) + "\n"
    return found


def substitute(code, replacements, name="snippet"):
    for old, new in replacements.items():
        if old not in code:
            raise SnippetError(f"{name}: placeholder {old!r} does not occur")
        code = code.replace(old, new)
    return code


def snippet(doc_path, name, replacements=None):
    """One snippet with its placeholders replaced."""
    all_snippets = snippets(doc_path)
    if name not in all_snippets:
        raise SnippetError(f"{doc_path}: no snippet {name!r} (have: {', '.join(all_snippets)})")
    return substitute(all_snippets[name], replacements or {}, name)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    doc, command = argv[1], argv[2]
    try:
        if command == "--list":
            print("\n".join(snippets(doc)))
            return 0
        if command == "--compare":
            ours, theirs = snippets(doc), snippets(argv[3])
            differing = [n for n in theirs if n in ours and ours[n] != theirs[n]]
            unknown = [n for n in theirs if n not in ours]
            for n in differing:
                print(f"snippet {n!r} differs between {doc} and {argv[3]}")
            for n in unknown:
                print(f"snippet {n!r} of {argv[3]} is not in {doc}")
            return 1 if differing or unknown else 0
        pairs = {}
        for pair in argv[3:]:
            old, sep, new = pair.partition("=")
            if not sep:
                raise SnippetError(f"not OLD=NEW: {pair!r}")
            pairs[old] = new
        sys.stdout.write(snippet(doc, command, pairs))
        return 0
    except (OSError, SnippetError) as error:
        print(f"doc_snippets: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
