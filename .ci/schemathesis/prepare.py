"""Create the data Schemathesis cannot create itself, and a config file that points it there.

Usage: python .ci/schemathesis/prepare.py BASE_URL CONFIG_OUT   (run by .ci/schemathesis/run.sh)

Random identifiers only ever reach the 404 branch of an operation that reads by id. This places,
through the API itself (loopback only):

  - an order whose result is recorded (admin `POST /admin/v1/assessments/{id}/result`), so that
    `GET /recruitment/v1/results/{resultId}` has a result to answer with;
  - an order left open, for `POST /admin/v1/assessments/{id}/result`;
  - an assessment started through Ashby, for `POST /ashby/assessment.cancel`;

and offers the seeded values that make an order, a start or an organisation acceptable (the
demo organisation's lenses, the offered locales, the integrators), so that schema-valid data
reaches the operations' success paths and not only their 422s;

and writes the run's schemathesis.toml: the committed .ci/schemathesis/schemathesis.toml, then
dictionaries that offer those identifiers (and the deliveries they queued) to the operations that
read them, half of the time, the other half being generated as usual.
Credentials come from the same environment as the hooks (hooks.py is imported for them).
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import uuid

import requests

import hooks

LENS_ID = "7922dd91-1b44-43e4-a740-7c4d9c2fba41"  # General Performance, examples/seed.json
LENS_COMPETENCIES = ["problem-solving", "driving-leadership", "influencing-inspiring", "collaboration"]
TIMEOUT = 10


def fail(message: str) -> None:
    sys.exit(f"prepare: {message}")


def order(session: requests.Session, base: str, tag: str) -> tuple[str, str]:
    n = uuid.uuid4().hex[:12]
    body = {
        "recruitment": {"id": f"schemathesis-{tag}", "title": "Schemathesis fixture", "description": ""},
        "additionalRecruitmentCollaboratorsEmails": [],
        "resultUpdateUrl": "http://127.0.0.1:9/results",
        "resultId": f"schemathesis-{tag}-{n}",
        "lensId": LENS_ID,
        "locale": "en-US",
        "candidateDetails": {"email": f"schemathesis-{tag}-{n}@example.com"},
    }
    r = session.post(
        f"{base}/recruitment/v1/assessment-order",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        auth=hooks.RecruitmentAuth(),
        timeout=TIMEOUT,
    )
    if r.status_code != 201:
        fail(f"order {tag}: {r.status_code} {r.text}")
    return body["resultId"], r.json()


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL CONFIG_OUT")
    base, out = sys.argv[1].rstrip("/"), sys.argv[2]
    if not hooks.ADMIN_TOKEN:
        fail("AP_ST_ADMIN_TOKEN is not set")
    admin = hooks.BearerAuth(hooks.ADMIN_TOKEN)
    s = requests.Session()

    completed_result_id, completed_id = order(s, base, "completed")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    r = s.post(
        f"{base}/admin/v1/assessments/{completed_id}/result",
        json={"score": 71, "subscores": {key: 60 + i for i, key in enumerate(LENS_COMPETENCIES)}, "completedAt": now},
        auth=admin,
        timeout=TIMEOUT,
    )
    if r.status_code != 200:
        fail(f"recording a result: {r.status_code} {r.text}")
    open_result_id, open_id = order(s, base, "open")

    n = uuid.uuid4().hex[:12]
    r = s.post(
        f"{base}/ashby/assessment.start",
        json={
            "assessment_type_id": LENS_ID,
            "candidate": {"ashby_id": f"cand-{n}", "first_name": "Ada", "last_name": "Lovelace",
                          "email": f"schemathesis-ashby-{n}@example.com"},
            "application": {"ashby_id": f"app-{n}", "status": "Active"},
            "job": {"ashby_id": f"job-{n}", "name": "Schemathesis fixture"},
        },
        auth=requests.auth.HTTPBasicAuth(hooks.ASHBY_PARTNER_KEY, ""),
        timeout=TIMEOUT,
    )
    if r.status_code != 200 or not r.json().get("success"):
        fail(f"ashby assessment.start: {r.status_code} {r.text}")
    ashby_id = r.json()["results"]["assessment_id"]

    r = s.get(f"{base}/admin/v1/deliveries", params={"limit": 200}, auth=admin, timeout=TIMEOUT)
    if r.status_code != 200:
        fail(f"listing deliveries: {r.status_code} {r.text}")
    delivery_ids = [d["id"] for d in r.json().get("items", [])][:20]

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "seed.json")) as f:
        seed = json.load(f)
    org = next(o for o in seed["organizations"] if o.get("providerKey") == hooks.PROVIDER_KEY)
    # One dictionary per kind of value, each offered (half of the time) to the parameters that
    # read it; the operations are selected by name or by a path pattern.
    dictionaries = {
        "offered_lens_ids": org["lensIds"],
        "offered_locales": seed["locales"],
        "integrator_ids": [i["id"] for i in seed["integrators"]],
        "result_ids": [completed_result_id, open_result_id],
        "open_assessment_ids": [open_id],
        "ashby_assessment_ids": [ashby_id],
        "delivery_ids": delivery_ids,
    }
    bindings = [
        ("include-path-regex", "^/recruitment/v1/assessment-(link-)?order$",
         {"body.lensId": "offered_lens_ids", "body.locale": "offered_locales"}),
        ("include-name", "POST /ashby/assessment.start", {"body.assessment_type_id": "offered_lens_ids"}),
        ("include-name", "PUT /admin/v1/organizations/{id}", {"body.integratorId": "integrator_ids"}),
        ("include-name", "GET /recruitment/v1/results/{resultId}", {"path.resultId": "result_ids"}),
        ("include-name", "POST /admin/v1/assessments/{id}/result", {"path.id": "open_assessment_ids"}),
        ("include-name", "POST /ashby/assessment.cancel", {"body.assessment_id": "ashby_assessment_ids"}),
        ("include-name", ["GET /admin/v1/deliveries/{id}", "POST /admin/v1/deliveries/{id}/replay"],
         {"path.id": "delivery_ids"}),
    ]

    # The committed static settings, then the dictionaries and their bindings (JSON strings and
    # lists are valid TOML values).
    static = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
    with open(static) as f:
        config = f.read()
    config += "\n# ---- written by .ci/schemathesis/prepare.py for this run ----\n"
    for name, items in dictionaries.items():
        if items:
            config += f"\n[dictionaries.{name}]\nvalues = {json.dumps(items)}\n"
    for key, selector, parameters in bindings:
        if not all(dictionaries[d] for d in parameters.values()):
            continue
        offered = ", ".join(
            f'{json.dumps(param)} = {{ dictionary = "{d}", probability = 0.5 }}' for param, d in parameters.items()
        )
        config += f"\n[[operations]]\n{key} = {json.dumps(selector)}\nparameters = {{ {offered} }}\n"
    with open(out, "w") as f:
        f.write(config)
    print(
        f"prepared: result {completed_result_id} (recorded), open assessment {open_id} ({open_result_id}), "
        f"Ashby assessment {ashby_id}, {len(delivery_ids)} deliveries"
    )


if __name__ == "__main__":
    main()
