"""Property-based HTTP test: schemathesis drives the local API from its own /openapi.json.

Valid and invalid requests to every documented route, as a user with a token; no
answer may be a 5xx, every answer must be documented (status, content type, schema), and
every 4xx is a JSON ``{"error", "detail"}``. The number of
examples is bounded so the test stays within its time budget.
"""

from __future__ import annotations

import json

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from skystream.clients.api import ApiClient, ApiError
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack
from skystream.storage.users import UserStore

EXAMPLES = 120
LIFECYCLE_EXAMPLES = 30

# Random SQL is almost never valid, so the generic fuzzing rarely gets past the checker;
# this part saves and edits real filters with arbitrary names, outputs and flags.
QUERIES = [
    ("objects.diaObjectId, objects.ra", "objects", "objects.nDiaSources > 2"),
    ("objects.diaObjectId", "objects, sherlock_classifications", "sherlock_classifications.classification = 'SN'"),
    ("objects.diaObjectId, objects.g_psfFlux", "objects", ""),
]
FILTER_BODIES = st.fixed_dictionaries({
    "name": st.text(min_size=1, max_size=60),
    "output": st.sampled_from(["none", "email", "kafka_plain", "kafka_lite", "kafka_full"]),
    "public": st.booleans(),
    "on_alert": st.booleans(),
    "query": st.sampled_from(QUERIES),
    "description": st.text(max_size=30),
})


def lifecycle(api: ApiClient, seen: dict[int, int]) -> None:
    """Create, rename, list and delete filters with generated settings; only 2xx, 400, 409 or 422 may come back."""

    @hypothesis.settings(max_examples=LIFECYCLE_EXAMPLES, deadline=None, derandomize=True, database=None,
                         phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(body=FILTER_BODIES, new_name=st.text(min_size=1, max_size=60))
    def save_edit_delete(body: dict, new_name: str) -> None:
        selected, tables, conditions = body.pop("query")
        payload = {**body, "selected": selected, "tables": tables, "conditions": conditions}
        try:
            saved = api.post("/filters", payload)
        except ApiError as exc:
            seen[exc.status] = seen.get(exc.status, 0) + 1
            assert exc.status in {400, 409, 422}, exc
            return
        fid = saved["filter"]["filter_id"]
        assert (saved["topic"] is not None) == body["output"].startswith("kafka")
        try:
            renamed = api.patch(f"/filters/{fid}", {"version": 1, "name": new_name})
            assert renamed["filter"]["version"] == 2
        except ApiError as exc:
            seen[exc.status] = seen.get(exc.status, 0) + 1
            assert exc.status in {409, 422}, exc
        assert fid in {f["filter_id"] for f in api.get("/filters")["filters"]}
        api.delete(f"/filters/{fid}")
        seen[200] = seen.get(200, 0) + 1

    save_edit_delete()


def test_no_request_makes_the_api_fail(stack: EphemeralStack) -> None:
    port = free_port()
    host = stack.host(only={"filter_api"}, api_port=port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        _user, token = UserStore().add("Fuzz", "fuzz@example.org")
        ApiClient(url, token).post("/filters", {"name": "seen", "selected": "objects.diaObjectId",
                                                "tables": "objects", "public": True})
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        assert len(list(schema.get_all_operations())) >= 9
        strategy = st.one_of(schema.as_strategy(), schema.as_strategy(schemathesis.GenerationMode.NEGATIVE))
        seen: dict[int, int] = {}

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                             phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=strategy)
        def call(case: schemathesis.Case) -> None:
            response = case.call(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            where = f"{case.method} {case.formatted_path} body={case.body!r:.300}"
            assert response.status_code < 500, f"{where} -> {response.status_code} {response.text[:500]}"
            # and the answer is what /openapi.json promises: a documented status, content type and shape
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     response_schema_conformance, content_type_conformance])
            if response.status_code >= 400:
                body = json.loads(response.text)
                assert body.get("error") and body.get("detail"), f"{where} -> {response.text[:300]}"

        call()
        lifecycle(ApiClient(url, token), seen)
    finally:
        host.stop()
    assert sum(seen.values()) >= EXAMPLES // 2
    assert any(200 <= code < 300 for code in seen) and any(400 <= code < 500 for code in seen)
