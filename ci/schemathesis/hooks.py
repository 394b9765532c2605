"""Schemathesis hooks for assessment-partner: authenticate each API surface.

Loaded by ci/schemathesis/run.sh through SCHEMATHESIS_HOOKS=hooks (with this folder on PYTHONPATH).

One auth provider per surface, each limited to its paths with `.apply_to(path_regex=...)`:

  /recruitment/   provider-key header + Signature: t=<unix secs>,signature=<hex HMAC-SHA256(secret, "<t>." + body)>
  /ashby/         HTTP Basic with the organisation's Ashby partner key as the user name
  /admin/         Authorization: Bearer <admin JWT> (minted by run.sh with `assessment-partner token`)
  /health/        nothing (the document declares no security there)

They are registered with `schemathesis.auth.set_from_requests(...)`: Schemathesis hands the
`requests` auth object to the request it sends, and `requests` calls it on the *prepared* request,
after the body has been serialised. So the Recruitment API's signature is computed over exactly the
bytes that go on the wire (empty for a GET), and its timestamp is taken when the request is sent,
not when the case was generated (the stateful phase may hold a case for a while).

Schemathesis decides when to authenticate: it applies no provider to a case whose security
parameters it deliberately negated (negative data generation), and the `ignored_auth` check sends
its own probes without credentials (a derived case does not inherit the auth object) and with
invalid ones. Auth set here marks the case as explicitly authenticated, which is what makes
`ignored_auth` run those probes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import requests.auth

import schemathesis

# The demo organisation from examples/seed.json (what run.sh seeds).
PROVIDER_KEY = os.environ.get("AP_ST_PROVIDER_KEY", "demo-provider-key-example-ab")
INTEGRATOR_SECRET = os.environ.get("AP_ST_INTEGRATOR_SECRET", "demo-integrator-secret-change-me")
ASHBY_PARTNER_KEY = os.environ.get("AP_ST_ASHBY_PARTNER_KEY", "demo-ashby-partner-key-example-ab")
ADMIN_TOKEN = os.environ.get("AP_ST_ADMIN_TOKEN", "")


def wire_bytes(body: object) -> bytes:
    """The bytes `requests` will send for a prepared body."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray):
        return bytes(body)
    if isinstance(body, str):
        # http.client sends a str body encoded as ISO-8859-1 (and refuses one that is not).
        try:
            return body.encode("iso-8859-1")
        except UnicodeEncodeError:
            return body.encode("utf-8")
    raise TypeError(f"cannot sign a streamed request body ({type(body).__name__})")


def signature(secret: str, t: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},signature={mac}"


class RecruitmentAuth(requests.auth.AuthBase):
    """provider-key and a Signature over the exact body bytes, computed when the request is sent."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["provider-key"] = PROVIDER_KEY
        request.headers["Signature"] = signature(INTEGRATOR_SECRET, int(time.time()), wire_bytes(request.body))
        return request


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


schemathesis.auth.set_from_requests(RecruitmentAuth()).apply_to(path_regex=r"^/recruitment/")
# Basic with the partner key as the user name and an empty password (src/ashby/auth.rs accepts
# the key as either; the document's ashby_partner_key scheme says so too).
schemathesis.auth.set_from_requests(requests.auth.HTTPBasicAuth(ASHBY_PARTNER_KEY, "")).apply_to(
    path_regex=r"^/ashby/"
)
if ADMIN_TOKEN:
    schemathesis.auth.set_from_requests(BearerAuth(ADMIN_TOKEN)).apply_to(path_regex=r"^/admin/")
