"""Talk to a running server through the Python client generated from openapi/openapi.json.

Usage: python .ci/client_check.py BASE_URL   (run by .ci/run against `assessment-partner demo`)

The point is to prove that a client generated from the committed OpenAPI document works against
the real server: the security schemes, the request body schema and the documented responses
(status codes *and* media types, which decide how the generated code parses a body).

Every Recruitment API request is signed in an httpx request hook, which sees the exact bytes the
generated client is about to send: Signature: t=<unix secs>,signature=<hex HMAC-SHA256(secret, "<t>." + body)>.
"""

import hashlib
import hmac
import os
import sys
import time
import uuid

import httpx
from assessment_partner_client import AuthenticatedClient, Client
from assessment_partner_client.api.ashby import ashby_assessment_list
from assessment_partner_client.api.recruitment import get_config, post_assessment_order
from assessment_partner_client.models import AssessmentOrderRequest, ConfigResponse, Problem

# The demo organisation from examples/seed.json (what `assessment-partner demo` seeds).
PROVIDER_KEY = os.environ.get("AP_CI_PROVIDER_KEY", "demo-provider-key-example-ab")
SECRET = os.environ.get("AP_CI_INTEGRATOR_SECRET", "demo-integrator-secret-change-me")
LENS_ID = os.environ.get("AP_CI_LENS_ID", "7922dd91-1b44-43e4-a740-7c4d9c2fba41")
ASHBY_PARTNER_KEY = os.environ.get("AP_CI_ASHBY_PARTNER_KEY", "demo-ashby-partner-key-example-ab")


def signer(secret: str):
    """An httpx request hook that signs the body exactly as it will be sent."""

    def sign(request: httpx.Request) -> None:
        body = request.read()  # b"" for a GET
        t = str(int(time.time()))
        mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        request.headers["Signature"] = f"t={t},signature={mac}"

    return sign


def client(base_url: str, secret: str) -> AuthenticatedClient:
    # The operations are typed `client: AuthenticatedClient`; its token/auth_header_name pair is how
    # the generated code carries an apiKey header, so the provider_key scheme maps onto it directly.
    return AuthenticatedClient(
        base_url=base_url,
        token=PROVIDER_KEY,
        prefix="",
        auth_header_name="provider-key",
        timeout=httpx.Timeout(10.0),
        raise_on_unexpected_status=True,  # a status the document does not list is a failure
        httpx_args={"event_hooks": {"request": [signer(secret)]}},
    )


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"client check FAILED: {message}")


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL")
    base_url = sys.argv[1]
    good = client(base_url, SECRET)
    bad = client(base_url, SECRET + "-wrong")

    # 1. Config: the demo lens is on offer.
    r = get_config.sync_detailed(client=good)
    check(r.status_code == 200, f"GET config answered {r.status_code}: {r.content!r}")
    check(isinstance(r.parsed, ConfigResponse), f"GET config parsed as {type(r.parsed).__name__}")
    lens_ids = [str(lens.id) for lens in r.parsed.available_lenses]
    check(LENS_ID in lens_ids, f"lens {LENS_ID} not in availableLenses {lens_ids}")
    print(f"config: {len(lens_ids)} lens(es), locales {r.parsed.available_locales}")

    # 2. A new signed order: 201 and the assessment id.
    n = uuid.uuid4().hex
    order = AssessmentOrderRequest.from_dict(
        {
            "recruitment": {"id": f"ci-job-{n}", "title": "CI check", "description": "Generated-client check"},
            "additionalRecruitmentCollaboratorsEmails": [],
            "resultUpdateUrl": "https://ats.example.com/results/ci",
            "resultId": f"ci-{n}",
            "lensId": LENS_ID,
            "locale": "en-US",
            "candidateDetails": {"email": f"ci-{n}@example.com"},
        }
    )
    r = post_assessment_order.sync_detailed(client=good, body=order)
    check(r.status_code == 201, f"new order answered {r.status_code}: {r.content!r}")
    check(
        is_uuid(r.parsed),
        f"new order: the generated client parsed the body as {r.parsed!r}, not an assessment id "
        f"(Content-Type {r.headers.get('content-type')!r}; the document must give the media type the server sends)",
    )
    assessment_id = r.parsed
    print(f"order: 201 {assessment_id}")

    # 3. The same order again: 200 and the same id.
    r = post_assessment_order.sync_detailed(client=good, body=order)
    check(r.status_code == 200, f"repeated order answered {r.status_code}: {r.content!r}")
    check(r.parsed == assessment_id, f"repeated order answered {r.parsed!r}, expected {assessment_id!r}")
    print(f"repeat: 200 {r.parsed}")

    # 4. A bad signature: 401 with a problem document.
    r = post_assessment_order.sync_detailed(client=bad, body=order)
    check(r.status_code == 401, f"badly signed order answered {r.status_code}: {r.content!r}")
    check(isinstance(r.parsed, Problem), f"401 parsed as {type(r.parsed).__name__}: {r.content!r}")
    print(f"bad signature: 401 {r.parsed.title!r}")

    # 5. Ashby's assessment.list, with the partner key as HTTP Basic user name.
    ashby = Client(
        base_url=base_url,
        timeout=httpx.Timeout(10.0),
        raise_on_unexpected_status=True,
        httpx_args={"auth": httpx.BasicAuth(ASHBY_PARTNER_KEY, "")},
    )
    r = ashby_assessment_list.sync_detailed(client=ashby, body={})
    check(r.status_code == 200, f"assessment.list answered {r.status_code}: {r.content!r}")
    check(r.parsed is not None and r.parsed.success is True, f"assessment.list parsed as {r.parsed!r}")
    types = [str(t.assessment_type_id) for t in r.parsed.results]
    check(LENS_ID in types, f"lens {LENS_ID} not among the assessment types {types}")
    print(f"ashby assessment.list: {len(types)} assessment type(s)")

    print("client check passed: config, order (201), idempotent repeat (200), bad signature (401), ashby assessment.list")


if __name__ == "__main__":
    main()
