#!/usr/bin/env python3
"""A local stand-in for Discord's webhook endpoint, for the loopback stack's Alertmanager.

Discord cannot run here, so this server speaks the part of its API that Alertmanager's
`discord_configs` uses: `POST /api/webhooks/{id}/{token}` with a JSON message. As Discord does,
it answers 204 No Content (200 with the message when `?wait=true`), 400 with Discord's error
codes for a body Discord would refuse (not JSON, no content and no embeds, or a field over
Discord's length limits), 404 for any other path. Each accepted message is appended, as one
JSON line, to the output file; refused ones are described on standard error.

    discord_sink.py --port PORT --out FILE [--host 127.0.0.1]

`GET /api/webhooks/{id}/{token}` answers the webhook object (Discord does the same), which the
stack uses as its readiness probe. Stdlib only.
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WEBHOOK_PATH = re.compile(r"^/api/(?:v\d+/)?webhooks/(\d+|[A-Za-z0-9_-]+)/([A-Za-z0-9_.-]+)$")

# Discord's documented limits for an execute-webhook body.
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_FIELDS_MAX = 25
EMBEDS_TOTAL_MAX = 6000
USERNAME_MAX = 80


def problems_of(message):
    """What Discord would refuse in this message (an empty list when it accepts it)."""
    if not isinstance(message, dict):
        return ["the body is not a JSON object"]
    problems = []
    content = message.get("content")
    embeds = message.get("embeds")
    if content is not None and not isinstance(content, str):
        problems.append("content: not a string")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        problems.append(f"content: {len(content)} characters, more than {CONTENT_MAX}")
    if embeds is not None and not isinstance(embeds, list):
        problems.append("embeds: not an array")
        embeds = None
    if not (content or embeds):
        problems.append("neither content nor embeds: Discord refuses an empty message (50006)")
    username = message.get("username")
    if isinstance(username, str) and len(username) > USERNAME_MAX:
        problems.append(f"username: more than {USERNAME_MAX} characters")
    total = 0
    for i, embed in enumerate(embeds or []):
        if not isinstance(embed, dict):
            problems.append(f"embeds[{i}]: not an object")
            continue
        for key, limit in EMBED_LIMITS.items():
            value = embed.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                problems.append(f"embeds[{i}].{key}: not a string")
                continue
            total += len(value)
            if len(value) > limit:
                problems.append(f"embeds[{i}].{key}: {len(value)} characters, more than {limit}")
        color = embed.get("color")
        if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
            problems.append(f"embeds[{i}].color: not an integer RGB value")
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            problems.append(f"embeds[{i}].fields: more than {EMBED_FIELDS_MAX}")
    if embeds is not None and len(embeds) > EMBEDS_MAX:
        problems.append(f"embeds: {len(embeds)}, more than {EMBEDS_MAX}")
    if total > EMBEDS_TOTAL_MAX:
        problems.append(f"embeds: {total} characters in all, more than {EMBEDS_TOTAL_MAX}")
    return problems


class Sink:
    def __init__(self, out_path):
        self.out_path = out_path
        self.lock = threading.Lock()
        self.next_id = int(time.time() * 1000) << 22

    def record(self, message):
        with self.lock:
            with open(self.out_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
            self.next_id += 1
            return str(self.next_id)


class Handler(BaseHTTPRequestHandler):
    server_version = "discord-sink/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        sys.stderr.write("discord-sink: %s %s\n" % (self.address_string(), format % args))

    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def webhook(self):
        parts = urlsplit(self.path)
        match = WEBHOOK_PATH.match(parts.path)
        return match, parse_qs(parts.query)

    def do_GET(self):
        match, _ = self.webhook()
        if not match:
            self.answer(404, {"message": "404: Not Found", "code": 0})
            return
        self.answer(200, {"type": 1, "id": match.group(1), "name": "vitrine-local-sink",
                          "channel_id": "0", "guild_id": "0", "token": match.group(2)})

    def do_POST(self):
        match, query = self.webhook()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not match:
            self.answer(404, {"message": "Unknown Webhook", "code": 10015})
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            sys.stderr.write(f"discord-sink: refused a body of type {content_type or 'none'}\n")
            self.answer(400, {"message": "Cannot send an empty message", "code": 50006})
            return
        try:
            message = json.loads(body)
        except ValueError:
            sys.stderr.write("discord-sink: refused a body that is not JSON\n")
            self.answer(400, {"message": "The request body contains invalid JSON.", "code": 50109})
            return
        problems = problems_of(message)
        if problems:
            sys.stderr.write("discord-sink: refused a message: " + "; ".join(problems) + "\n")
            code = 50006 if any("empty message" in p for p in problems) else 50035
            self.answer(400, {"message": "Invalid Form Body" if code == 50035 else "Cannot send an empty message",
                              "code": code, "errors": problems})
            return
        message_id = self.server.sink.record(message)
        if query.get("wait", ["false"])[0].lower() == "true":
            self.answer(200, dict(message, id=message_id, webhook_id=match.group(1), type=0))
        else:
            self.answer(204)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True, help="file each accepted message is appended to, one JSON line each")
    args = parser.parse_args()
    open(args.out, "a").close()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.sink = Sink(args.out)
    sys.stderr.write(f"discord-sink: listening on {args.host}:{args.port}, writing to {args.out}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
