"""A result receiver for trying the demo: prints every POST it gets and answers 200 with
{"success": true} (what Ashby answers, so it also stands in for Ashby's assessment.update).

    python3 examples/receiver.py [PORT]      (default 9999; the demo's orders send results here;
                                              the demo's step 6 points Ashby updates at 9998)

If the integrator secret is given in AP_DEMO_SECRET (the demo's is the default), it also checks
the push's Signature header the way an integrator would.
"""

import hashlib
import hmac
import http.server
import json
import os
import sys
import time

SECRET = os.environ.get("AP_DEMO_SECRET", "demo-integrator-secret-change-me").encode()


def signature_ok(header: str, body: bytes) -> bool:
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    t = next((v for k, v in parts if k.strip() == "t"), None)
    if t is None or abs(time.time() - int(t)) > 300:
        return False
    expected = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(k.strip() == "signature" and hmac.compare_digest(v.strip(), expected) for k, v in parts)


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        verified = signature_ok(self.headers.get("Signature", ""), body)
        print(f"\n{self.command} {self.path}  Idempotency-Key: {self.headers.get('Idempotency-Key')}  "
              f"signature {'verified' if verified else 'NOT verified'}")
        try:
            print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
        except ValueError:
            print(body.decode(errors="replace"))
        sys.stdout.flush()
        answer = b'{"success": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
    print(f"listening on http://127.0.0.1:{port}")
    http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
