"""A Python client generated from the gateway's merged OpenAPI document (openapi-python-client,
pinned in uv.lock) works against the running system: the document is one clients
can build on, error answers included."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "rally_api_client"
# The generator reads JSON and octet-stream bodies; media downloads are documented as `image/*`.
CONFIG = "content_type_overrides:\n  image/*: application/octet-stream\npost_hooks: []\n"


@pytest.fixture(scope="module")
def client_pkg(api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("generated")
    doc = out / "openapi.json"
    doc.write_bytes(api.http.get("/openapi.json").content)
    (out / "config.yaml").write_text(CONFIG)
    r = subprocess.run([str(GENERATOR), "generate", "--path", str(doc), "--meta", "none",
                        "--output-path", str(out / PACKAGE), "--config", str(out / "config.yaml")],
                       capture_output=True, text=True, timeout=300, cwd=out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # Anything the generator had to leave out is a defect of the document.
    assert "Warning" not in r.stdout, r.stdout[-3000:]
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def sub(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_generated_client_creates_a_session_and_posts_ideas(client_pkg, api):
    models = sub("models")
    auth = sub("api.auth.auth_dev_token")
    sessions_create, sessions_get = sub("api.sessions.sessions_create"), sub("api.sessions.sessions_get")
    ideas_create, ideas_list = sub("api.ideas.ideas_create"), sub("api.ideas.ideas_list")
    base = str(api.http.base_url)

    anonymous = client_pkg.Client(base_url=base)
    token = auth.sync(client=anonymous, body=models.DevTokenRequest(name=f"gen-{uuid.uuid4().hex[:6]}"))
    assert isinstance(token, models.DevTokenResponse) and token.profile_id
    me = client_pkg.AuthenticatedClient(base_url=base, token=token.token)

    session = sessions_create.sync(client=me, body=models.SessionCreate(topic="Generated picnic"))
    assert isinstance(session, models.SessionRead), session
    assert session.owner_id == token.profile_id and session.phase == "ideation"
    sid = str(session.id)
    for text in ("Lake", "Park"):
        idea = ideas_create.sync(session_id=sid, client=me, body=models.IdeaCreate(text=text))
        assert isinstance(idea, models.IdeaRead) and idea.text == text
    page = ideas_list.sync(session_id=sid, client=me)
    assert isinstance(page, models.PageIdeaRead)
    assert [i.text for i in page.items] == ["Lake", "Park"]

    # Errors arrive as the documented models, not as untyped bodies.
    missing = sessions_get.sync(session_id=str(uuid.uuid4()), client=me)
    assert isinstance(missing, models.ErrorResponse) and missing.error.code == "not_found"
    invalid = ideas_create.sync_detailed(session_id=sid, client=me, body=models.IdeaCreate(text=""))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, models.ValidationErrorResponse)
    assert invalid.parsed.error.code == "validation_error"
    refused = ideas_list.sync(session_id=sid, client=client_pkg.AuthenticatedClient(base_url=base, token="x.y.z"))
    assert isinstance(refused, models.ErrorResponse) and refused.error.code == "invalid_token"
