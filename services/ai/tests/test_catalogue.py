"""The role catalogue: the shipped files are valid, and a broken entry fails with a message naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from ai_service.planning.catalogue import CATALOGUE_DIR, GENERAL, CatalogueError, load_catalogue
from rally_shared.contracts.roles import QUESTION_KEYS


def test_shipped_catalogue_is_broad_and_valid() -> None:
    cat = load_catalogue()
    assert len(cat.activities) >= 30 and cat.role_count >= 300
    assert all(r.generic for r in cat.generic) and len(cat.generic) <= 5
    for act in cat.activities.values():
        phases = {r.phase for r in act.roles}
        assert {"prepare", "do", "share"} <= phases, act.key
        assert sum(1 for r in act.roles if not r.requires) * 2 >= len(act.roles), act.key
    assert set(QUESTION_KEYS) <= set(cat.questions)
    assert len(cat.version) == 12


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of the catalogue to break."""
    dest = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, dest)
    return dest


def _edit(path: Path, change: object) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _key(d: dict, i: int) -> str:  # type: ignore[type-arg]
    return str(d["roles"][i]["key"])


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["roles"][1].setdefault("requires", []).append({"question": "owns_boat", "equals": True}),
     r"moving\.yaml: roles\[1\] \({k1}\)\.requires\.\d+\.question"),
    (lambda d: d["roles"][0].update(requires=[{"question": "budget", "equals": True}]),
     r"moving\.yaml: roles\[0\] \({k0}\)\.requires\.0: .*`budget` takes `atLeast`"),
    (lambda d: d["roles"][2]["task"].update(instructions="Pack the {venue} into boxes with care, please."),
     r"moving\.yaml: roles\[2\] \({k2}\)\.task\.instructions: .*unknown slot \{{venue\}}"),
    (lambda d: d["roles"].append(dict(d["roles"][0])),
     r"moving\.yaml: roles\[\d+\]: duplicate role key '{k0}'"),
    (lambda d: d["roles"][0].pop("proof"), r"moving\.yaml: roles\[0\] \({k0}\)\.proof: Field required"),
    (lambda d: d.update(version=2), r"moving\.yaml: version must be 1"),
    (lambda d: d["activity"].update(key="Moving House"), r"moving\.yaml: activity\.key"),
])
def test_broken_entry_fails_naming_it(copy: Path, change: object, message: str) -> None:
    data = yaml.safe_load((copy / "moving.yaml").read_text())
    message = message.format(k0=_key(data, 0), k1=_key(data, 1), k2=_key(data, 2))
    _edit(copy / "moving.yaml", change)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(copy)


def test_broken_yaml_and_missing_question_text_fail(copy: Path) -> None:
    (copy / "party.yaml").write_text("version: 1\nactivity: [unclosed\n")
    with pytest.raises(CatalogueError, match=r"party\.yaml: not valid YAML"):
        load_catalogue(copy)
    (copy / "party.yaml").unlink()
    _edit(copy / "questions.yaml", lambda d: d["questions"].pop("has_tools"))
    with pytest.raises(CatalogueError, match=r"questions\.yaml: no text for the question\(s\) has_tools"):
        load_catalogue(copy)


def test_generic_roles_live_in_their_own_file(copy: Path) -> None:
    _edit(copy / "moving.yaml", lambda d: d["roles"][0].update(generic=True))
    with pytest.raises(CatalogueError, match=rf"generic roles belong in {GENERAL}\.yaml"):
        load_catalogue(copy)


async def test_service_refuses_to_start_on_a_broken_catalogue(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up hook builds the index: a broken catalogue stops the service with the entry named."""
    from ai_service.embeddings import local_embedder
    from ai_service.planning import catalogue

    key = _key(yaml.safe_load((copy / "moving.yaml").read_text()), 1)
    _edit(copy / "moving.yaml", lambda d: d["roles"][1].update(effort=9))
    monkeypatch.setattr(catalogue, "CATALOGUE_DIR", copy)
    monkeypatch.setattr(catalogue, "_indexes", {})
    with pytest.raises(CatalogueError, match=rf"moving\.yaml: roles\[1\] \({key}\)\.effort"):
        await catalogue.catalogue_index(local_embedder())
