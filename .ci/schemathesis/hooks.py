"""Schemathesis hooks for assessment-partner: authenticate each API surface.

Loaded by .ci/schemathesis/run.sh through SCHEMATHESIS_HOOKS=hooks (with this folder on PYTHONPATH).

One auth provider per surface, each limited to its paths with `.apply_to(path_regex=...)`:

  /recruitment/   provider-key header + Signature: t=<unix secs>,signature=<hex HMAC-SHA256(secret, "<t>." + body)>
  /ashby/         HTTP Basic with the organisation's Ashby partner key as the user name
  /admin/         Authorization: Bearer <admin JWT> (minted by run.sh with `assessment-partner token`)
  /health/        nothing (the document declares no security there)

Each provider's credentials are a `requests` auth object (as with
`schemathesis.auth.set_from_requests(...)`): Schemathesis hands it to the request it sends, and
`requests` calls it on the *prepared* request, after the body has been serialised. So the
Recruitment API's signature is computed over exactly the bytes that go on the wire (empty for a
GET), and its timestamp is taken when the request is sent, not when the case was generated (the
stateful phase may hold a case for a while).

Schemathesis applies no provider to a case that negates one of its security parameters, and a
provider here also declines a case whose header parameters were negated as a whole (see
`headers_negated`): negative cases about credentials go out without them. The `ignored_auth`
check sends its own probes without credentials (a derived case does not inherit the auth object)
and with invalid ones; auth set by a provider marks the case as explicitly authenticated, which
is what makes `ignored_auth` send those probes.

It also registers a check, `hook_credentials_accepted`: Schemathesis takes a 401 as an acceptable
answer to valid data, so credentials this file got wrong (a signature over the wrong bytes) would
otherwise leave the API untested without failing anything. A refused replay (an identical case
signed within the same second, for the calls accepted once) is not such a mistake.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from urllib.parse import urlsplit

import requests.auth

import schemathesis
from schemathesis.core.parameters import ParameterLocation

# The demo organisation from examples/seed.json (what run.sh seeds).
PROVIDER_KEY = os.environ.get("AP_ST_PROVIDER_KEY", "demo-provider-key-example-ab")
INTEGRATOR_SECRET = os.environ.get("AP_ST_INTEGRATOR_SECRET", "demo-integrator-secret-change-me")
ASHBY_PARTNER_KEY = os.environ.get("AP_ST_ASHBY_PARTNER_KEY", "demo-ashby-partner-key-example-ab")
ADMIN_TOKEN = os.environ.get("AP_ST_ADMIN_TOKEN", "")
ASHBY_BASIC = "Basic " + base64.b64encode(f"{ASHBY_PARTNER_KEY}:".encode()).decode()


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


def headers_negated(case: schemathesis.Case) -> bool:
    """Whether this case deliberately breaks its header parameters (here: only the credentials).

    Schemathesis leaves auth off a case that negates one named security parameter, but not one
    that negates the header set as a whole ("violates `required`: provider-key, Signature" drops
    both); adding the credentials back would turn such a case into a valid request.
    """
    meta = case.meta
    return meta is not None and meta.is_negative_at(ParameterLocation.HEADER)


class SurfaceAuth:
    """An auth provider whose credentials are a `requests` auth object, applied when the request is sent."""

    credentials: requests.auth.AuthBase | None = None

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> requests.auth.AuthBase | None:
        if self.credentials is None or headers_negated(case):
            return None
        return self.credentials

    def set(self, case: schemathesis.Case, data: requests.auth.AuthBase, context: schemathesis.AuthContext) -> None:
        # What `schemathesis.auth.set_from_requests` does (schemathesis.auths.RequestsAuth.set): the
        # transport passes it to `requests` as `auth=`, which calls it on the prepared request.
        case._auth = data


# refresh_interval=None: no caching, `get` decides per case.
@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/recruitment/")
class RecruitmentApi(SurfaceAuth):
    credentials = RecruitmentAuth()


# Basic with the partner key as the user name and an empty password (src/ashby/auth.rs accepts
# the key as either; the document's ashby_partner_key scheme says so too).
@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/ashby/")
class AshbyApi(SurfaceAuth):
    credentials = requests.auth.HTTPBasicAuth(ASHBY_PARTNER_KEY, "")


@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/admin/")
class AdminApi(SurfaceAuth):
    credentials = BearerAuth(ADMIN_TOKEN) if ADMIN_TOKEN else None


@schemathesis.check
def hook_credentials_accepted(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case):
    """A 401 to a request that carried this file's credentials: the hook (or the server's check) is wrong.

    Schemathesis counts a 401 as an acceptable answer to valid data, so a signature computed
    over the wrong bytes would otherwise pass unnoticed and leave the API untested.
    """
    if response.status_code != 401:
        return None
    # The test push and sandbox results accept a signed request once: the same body signed in
    # the same second again is a replay, refused by design (README, "Replays"), not a wrong
    # signature. Schemathesis repeats identical cases.
    if '"detail":"Signature: replayed' in response.text:
        return None
    request = response.request
    path = urlsplit(request.url).path
    headers = request.headers
    ours = (
        (path.startswith("/recruitment/") and headers.get("provider-key") == PROVIDER_KEY and "Signature" in headers)
        or (path.startswith("/ashby/") and headers.get("Authorization") == ASHBY_BASIC)
        or (path.startswith("/admin/") and bool(ADMIN_TOKEN) and headers.get("Authorization") == f"Bearer {ADMIN_TOKEN}")
    )
    if ours:
        raise AssertionError(f"the hook's credentials were refused: {response.text[:300]}")
    return None
