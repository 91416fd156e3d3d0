"""Every paginated list refuses a malformed cursor with 400 and the error JSON, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from .conftest import Api
from .scenario import wait


def _cursor(parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "!!not-base64!!",
    _cursor({"not": "a list"}),
    _cursor([]),
    _cursor(["not-a-date", "x"]),
    _cursor([1, 2, 3, 4, 5, 6]),
    _cursor(["~x"]),
]
# Lists keyed by (time, uuid) also refuse a key whose id is not a uuid (members are keyed by any id).
UUID_KEYED_ENDINGS = ("/v1/sessions", "/ideas", "/tasks", "/v1/admin/generations")
NOT_A_UUID = _cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"])


@pytest.fixture(scope="module")
def lists(api: Api) -> tuple[list[str], dict[str, str], dict[str, str]]:
    h, _ = api.token("cursor-owner")
    admin, _ = api.token("cursor-admin", admin=True)
    sid = api.call("POST", "/v1/sessions", h, json={"topic": "Cursor checks", "visibility": "public"})["id"]
    member_paths = [
        "/v1/sessions", f"/v1/sessions/{sid}/members", f"/v1/sessions/{sid}/ideas",
        f"/v1/sessions/{sid}/approaches", "/v1/me/notifications", "/v1/me/tasks", f"/v1/sessions/{sid}/tasks",
    ]
    admin_paths = [
        "/v1/admin/generations", "/v1/admin/use-cases", "/v1/admin/audit", "/v1/admin/reports",
        "/v1/admin/sessions", "/v1/admin/analytics/generations", "/v1/admin/analytics/models",
        "/v1/admin/session-types",
    ]
    return [p + "|m" for p in member_paths] + [p + "|a" for p in admin_paths], h, admin


def test_malformed_cursors_are_400_everywhere(api: Api, lists: tuple[list[str], dict[str, str], dict[str, str]]
                                              ) -> None:
    paths, member, admin = lists
    for entry in paths:
        path, who = entry.rsplit("|", 1)
        h = admin if who == "a" else member
        # The list itself works (the tasks service learns of a new session from its event).
        wait(lambda p=path, hh=h: api.http.get(p, headers=hh).status_code == 200, timeout=20, what=f"{path} listed")
        extra = [NOT_A_UUID] if path.endswith(UUID_KEYED_ENDINGS) else []
        for cursor in BAD_CURSORS + extra:
            r = api.http.get(path, headers=h, params={"cursor": cursor})
            assert r.status_code == 400, f"{path} cursor={cursor!r} -> {r.status_code} {r.text[:200]}"
            assert r.json()["error"]["code"] == "invalid_cursor", (path, r.text[:200])
