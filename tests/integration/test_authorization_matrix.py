"""Every public route x {anonymous, non-member, member, owner, admin}: who may do what.

One session is taken to `submission` (members-only visibility). "member" is a member who is not the
assignee of the task under test; "owner" owns the session; "admin" is an admin who is not a member.
A public session and a private one (which "member" joined with an invite token) cover visibility
and invites.
"""

from __future__ import annotations

from typing import Any

import pytest

from .scenario import PNG, Member, Run, answer_all, ensure_use_cases, to_approach, to_tasks, wait

ROLES = ("anonymous", "non-member", "member", "owner", "admin")
OK = (200, 201, 202, 204)


@pytest.fixture(scope="module")
def world(api) -> dict[str, Any]:
    admin_h, _ = api.token("admin", admin=True)
    ensure_use_cases(api, admin_h)
    people = {}
    for name in ("owner", "bea", "member", "dan", "stranger", "eve"):
        h, pid = api.token(name)
        people[name] = Member(name, {"car": name in ("owner", "dan"), "budget": 30}, h, pid)
    owner = people["owner"]
    sid = api.call("POST", "/v1/sessions", owner.h, json={"topic": "What should we do this weekend?",
                                                          "visibility": "members"})["id"]
    for name in ("bea", "member", "dan"):
        api.call("POST", f"/v1/sessions/{sid}/invites", owner.h, json={"profileId": people[name].id})
        api.call("POST", f"/v1/sessions/{sid}/members", people[name].h)
    idea = api.call("POST", f"/v1/sessions/{sid}/ideas", people["bea"].h, json={"text": "Cinema"})["id"]
    run = Run(sid, [owner, people["bea"], people["member"], people["dan"]])
    approach = to_approach(api, run)
    answer_all(api, run)
    tasks = to_tasks(api, run)
    task_of = {t["profileId"]: t for t in tasks}
    # Dan posts an image proof so there is media to read.
    dan_task = task_of[people["dan"].id]
    data = {"text": "proof"} if "text" in dan_task["contentGuidance"]["proofTypes"] else {}
    if "rating" in dan_task["contentGuidance"]["proofTypes"]:
        data["rating"] = "5"
    post = api.call("POST", f"/v1/tasks/{dan_task['id']}/posts", people["dan"].h, data=data,
                    files={"file": ("p.png", PNG, "image/png")}) if "image" in dan_task["contentGuidance"][
        "proofTypes"] else None
    media = post["media"]["id"] if post and post.get("media") else None
    gen = api.call("GET", f"/v1/admin/generations?sessionId={sid}", admin_h)["items"][0]["id"]
    notes = wait(lambda: api.call("GET", "/v1/me/notifications", people["bea"].h)["items"], what="a notification")
    throwaway = api.call("POST", "/v1/sessions", owner.h, json={"topic": "to delete", "visibility": "members"})
    # The throwaway session also has Eve, whom the owner removes (the member column then leaves).
    for name in ("member", "eve"):
        api.call("POST", f"/v1/sessions/{throwaway['id']}/invites", owner.h, json={"profileId": people[name].id})
        api.call("POST", f"/v1/sessions/{throwaway['id']}/members", people[name].h)
    # A public session the "member" column belongs to, and a private one they joined with a token;
    # a second token is revoked at once.
    public = api.call("POST", "/v1/sessions", owner.h, json={"topic": "Open to all", "visibility": "public"})
    api.call("POST", f"/v1/sessions/{public['id']}/members", people["member"].h)
    private = api.call("POST", "/v1/sessions", owner.h, json={"topic": "Private", "visibility": "private"})
    link = api.call("POST", f"/v1/sessions/{private['id']}/invites", owner.h, json={})
    api.call("POST", f"/v1/sessions/{private['id']}/members", people["member"].h, json={"inviteToken": link["token"]})
    revoked = api.call("POST", f"/v1/sessions/{private['id']}/invites", owner.h, json={})
    api.call("DELETE", f"/v1/sessions/{private['id']}/invites/{revoked['id']}", owner.h)
    # The task the matrix posts proof to: Bea's (neither the "member" column nor the owner is its
    # assignee, and it is not done), with the proof its guidance asks for.
    bea_task = task_of[people["bea"].id]
    kinds = bea_task["contentGuidance"]["proofTypes"]
    proof: dict[str, Any] | None = ({"text": "proof"} if "text" in kinds else
                                    {"text": "proof", "rating": 4} if "rating" in kinds else None)
    return {
        "S": sid, "P": approach["id"], "I": idea, "T": bea_task["id"], "PROOF": proof, "M": media, "G": gen, "N": notes[0]["id"],
        "X": throwaway["id"], "E": people["eve"].id, "O": owner.id,
        "PUB": public["id"], "V": private["id"], "INV": link["id"], "REVOKED": revoked["token"],
        "headers": {"anonymous": {}, "non-member": people["stranger"].h, "member": people["member"].h,
                    "owner": owner.h, "admin": admin_h},
    }


A, F, N, C, U = 401, 403, 404, 409, 422
# method, path, body, expected status per role (anonymous, non-member, member, owner, admin)
MATRIX: list[tuple[str, str, Any, tuple[Any, ...]]] = [
    ("GET", "/v1/sessions", None, (A, OK, OK, OK, OK)),
    ("GET", "/v1/sessions/{S}", None, (A, N, OK, OK, OK)),
    ("PATCH", "/v1/sessions/{S}", {"description": "d"}, (A, N, F, OK, OK)),
    ("GET", "/v1/sessions/{S}/members", None, (A, N, OK, OK, OK)),
    ("POST", "/v1/sessions/{S}/members", None, (A, N, OK, OK, F)),
    ("GET", "/v1/sessions/{S}/ideas", None, (A, N, OK, OK, OK)),
    ("POST", "/v1/sessions/{S}/ideas", {"text": "late idea"}, (A, N, C, C, F)),
    ("POST", "/v1/sessions/{S}/ideas/{I}/comments", {"text": "nice"}, (A, N, OK, OK, F)),
    ("POST", "/v1/sessions/{S}/phase", {"to": "ideation"}, (A, N, F, C, C)),
    ("GET", "/v1/sessions/{S}/approach", None, (A, N, OK, OK, OK)),
    ("POST", "/v1/sessions/{S}/approach/regenerate", None, (A, N, F, C, C)),
    ("GET", "/v1/sessions/{S}/approaches", None, (A, N, OK, OK, OK)),
    # The choice is made (the session is in `submission`): members get 409, a non-member admin 403.
    ("PUT", "/v1/sessions/{S}/approaches/{P}/vote", {}, (A, N, C, C, F)),
    ("POST", "/v1/sessions/{S}/approaches/{P}/choose", None, (A, N, F, C, C)),
    ("PATCH", "/v1/sessions/{S}", {"approachChoice": "owner"}, (A, N, F, C, C)),
    ("PUT", "/v1/sessions/{S}/answers", {"answers": {}}, (A, N, C, C, F)),
    ("GET", "/v1/sessions/{S}/answers", None, (A, N, OK, OK, F)),
    ("POST", "/v1/sessions/{S}/invites", {"profileId": "someone"}, (A, N, F, OK, OK)),
    ("POST", "/v1/sessions/{S}/ai/retry", {"kind": "tasks"}, (A, N, F, C, C)),
    ("GET", "/v1/sessions/{S}/tasks", None, (A, N, OK, OK, OK)),
    ("GET", "/v1/tasks/{T}", None, (A, N, OK, OK, OK)),
    ("GET", "/v1/tasks/{T}/posts", None, (A, N, OK, OK, OK)),
    ("POST", "/v1/tasks/{T}/posts", "{PROOF}", (A, N, F, F, OK)),
    ("POST", "/v1/tasks/{T}/reject", {"reason": "blurry"}, (A, N, F, OK, (200, 409))),
    ("POST", "/v1/tasks/{T}/accept", None, (A, N, F, (200, 409), (200, 409))),
    # Owner and admin pass the check and reach validation: the profile is not a member (422).
    ("POST", "/v1/tasks/{T}/reassign", {"profileId": "not-a-member"}, (A, N, F, U, U)),
    # Bea's task is assigned, not offered: members get 409; an admin who is no member may not claim.
    ("POST", "/v1/tasks/{T}/claim", None, (A, N, C, C, F)),
    ("PATCH", "/v1/tasks/{T}", {"title": "Matrix title"}, (A, N, F, OK, OK)),
    ("GET", "/v1/media/{M}", None, (A, N, OK, OK, OK)),
    ("GET", "/v1/me/tasks", None, (A, OK, OK, OK, OK)),
    ("GET", "/v1/me/notifications", None, (A, OK, OK, OK, OK)),
    ("POST", "/v1/me/notifications/{N}/read", None, (A, N, N, N, N)),
    ("POST", "/v1/me/notifications/read-all", None, (A, OK, OK, OK, OK)),
    ("GET", "/v1/me/notification-preferences", None, (A, OK, OK, OK, OK)),
    # Members of the generation's session and admins rate it (the AI service knows members from events).
    ("POST", "/v1/generations/{G}/rating", {"score": 4}, (A, F, OK, OK, OK)),
    ("GET", "/v1/admin/generations", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/generations/{G}", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/ai/use-cases", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/use-cases", None, (A, F, F, F, OK)),
    ("POST", "/v1/admin/use-cases", {"title": "Matrix", "prompt": "p"}, (A, F, F, F, OK)),
    ("GET", "/v1/admin/session-types", None, (A, F, F, F, OK)),
    ("POST", "/v1/admin/session-types", {"key": "matrix", "name": "Matrix", "phaseFlow": ["ideation", "completed"]},
     (A, F, F, F, OK)),
    ("PUT", "/v1/admin/session-types/matrix", {"name": "Matrix", "phaseFlow": ["ideation", "completed"]},
     (A, F, F, F, OK)),
    ("GET", "/v1/admin/generations/spend", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/audit", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/analytics", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/sessions", None, (A, F, F, F, OK)),
    ("GET", "/v1/admin/reports", None, (A, F, F, F, OK)),
    ("POST", "/v1/admin/moderation", {"items": [{"entity": "idea", "entityId": "{I}"}], "action": "restore"},
     (A, F, F, F, OK)),
    ("POST", "/v1/reports", {"entity": "idea", "entityId": "{I}", "reason": "spam"}, (A, OK, OK, OK, OK)),
    ("GET", "/v1/sessions/{S}/answers/status", None, (A, N, OK, OK, OK)),
    # The session is in `submission`: answering, and so reminding, is over.
    ("POST", "/v1/sessions/{S}/answers/remind", None, (A, N, F, C, C)),
    # The owner removes Eve; the admin then finds no such member.
    ("DELETE", "/v1/sessions/{X}/members/{E}", None, (A, N, F, OK, N)),
    ("DELETE", "/v1/sessions/{X}/members/{O}", None, (A, N, F, C, C)),
    # Leaving is idempotent: the admin, no member, has nothing to leave; the owner may not.
    ("DELETE", "/v1/sessions/{X}/members/me", None, (A, N, OK, C, OK)),
    ("DELETE", "/v1/sessions/{X}", None, (A, N, F, None, OK)),
    # Visibility: a public session is read by anyone signed in and written by its members only.
    ("GET", "/v1/sessions/{PUB}", None, (A, OK, OK, OK, OK)),
    ("GET", "/v1/sessions/{PUB}/members", None, (A, OK, OK, OK, OK)),
    ("GET", "/v1/sessions/{PUB}/ideas", None, (A, OK, OK, OK, OK)),
    ("POST", "/v1/sessions/{PUB}/ideas", {"text": "public idea"}, (A, F, OK, OK, F)),
    ("POST", "/v1/sessions/{PUB}/members", None, (A, OK, OK, OK, OK)),
    # A private session: invisible to others; joining takes a live token (an admin sees it, has none).
    ("GET", "/v1/sessions/{V}", None, (A, N, OK, OK, OK)),
    ("GET", "/v1/sessions/{V}/ideas", None, (A, N, OK, OK, OK)),
    ("POST", "/v1/sessions/{V}/members", None, (A, N, OK, OK, F)),
    ("POST", "/v1/sessions/{V}/members", {"inviteToken": "{REVOKED}"}, (A, F, OK, OK, F)),
    ("POST", "/v1/sessions/{V}/members", {"inviteToken": "rinv_made-up"}, (A, F, OK, OK, F)),
    ("POST", "/v1/sessions/{V}/invites", {"maxUses": 1}, (A, N, F, OK, OK)),
    ("GET", "/v1/sessions/{V}/invites", None, (A, N, F, OK, OK)),
    # Revoking is idempotent: the admin, after the owner, gets 204 again.
    ("DELETE", "/v1/sessions/{V}/invites/{INV}", None, (A, N, F, OK, OK)),
]


def _fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str):
        for k in ("S", "P", "I", "T", "M", "G", "N", "X", "E", "O", "PUB", "V", "INV", "REVOKED"):
            value = value.replace("{" + k + "}", str(world[k]))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


def test_authorization_matrix(api, world):
    wrong = []
    for method, path, body, expected in MATRIX:
        if "{M}" in path and world["M"] is None:
            continue
        url = _fill(path, world)
        for role, want in zip(ROLES, expected, strict=True):
            if want is None:
                continue
            if body == "{PROOF}" and world["PROOF"] is None:
                # An image-only task: the proof goes up as a file.
                r = api.http.request(method, url, headers=world["headers"][role],
                                     files={"file": ("p.png", PNG, "image/png")})
            else:
                payload = world["PROOF"] if body == "{PROOF}" else _fill(body, world)
                r = api.http.request(method, url, headers=world["headers"][role],
                                     json=payload if body is not None else None)
            allowed = want if isinstance(want, tuple) else (want,)
            if r.status_code not in allowed:
                wrong.append(f"{method} {path} as {role}: {r.status_code} (want {want}) {r.text[:120]}")
            if r.status_code >= 400:
                assert r.json()["error"]["code"], f"{method} {path} as {role}: no error body"
    assert not wrong, "\n".join(wrong)
