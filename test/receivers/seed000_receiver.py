"""Seed 000's (Klarefi) documented Python receiver, on the standard library's http.server instead of Flask.

verify_webhook_signature is the vendor's sample, unchanged. Usage: SIGNING_SECRET=whsec_... python3 seed000_receiver.py
It listens on a free loopback port, prints {"listening": port} first, then one JSON line per request:
{"accepted": true, "event_type": ..., "delivery_id": ...} (answered 200) or {"accepted": false, "error": ...} (answered 401).
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def verify_webhook_signature(raw_body: bytes, signature_header: str, signing_secret: str) -> dict:
    parts = dict(part.split("=", 1) for part in signature_header.split(",") if "=" in part)
    timestamp = int(parts["t"])
    if abs(int(time.time()) - timestamp) > 300:
        raise ValueError("stale signature")
    expected = hmac.new(
        signing_secret.encode(),
        str(timestamp).encode() + b"." + raw_body,
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        raise ValueError("invalid signature")
    return json.loads(raw_body)


def report(record: dict) -> None:
    print(json.dumps(record), flush=True)


class KlarefiWebhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw_body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            event = verify_webhook_signature(
                raw_body=raw_body,
                signature_header=self.headers.get("X-Klarefi-Signature"),
                signing_secret=os.environ["SIGNING_SECRET"],
            )
        except Exception as e:  # as the sample: any failure is a 401
            report({"accepted": False, "error": f"{type(e).__name__}: {e}"})
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        report({"accepted": True, "event_type": event["event_type"], "delivery_id": event["delivery_id"], "path": self.path})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:  # keep stdout for the JSON lines
        pass


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", 0), KlarefiWebhook)
    report({"listening": server.server_address[1]})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
