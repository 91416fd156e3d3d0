"""The role catalogue: YAML files of activities and their roles, validated and embedded once.

`load_catalogue()` reads `planning/catalogue/*.yaml` and refuses a broken entry with a message that
names the file and the entry (the service does not start). `CatalogueIndex` holds the embeddings of
every activity's and role's `fitsWhen`, so roles are chosen by meaning; vectors are cached on disk
by content hash, so a restart does not pay the ~3 s of embedding again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from rally_shared.contracts.roles import KEY, QUESTION_KEYS, RoleSpec
from scipy import sparse  # type: ignore[import-untyped]

from ai_service.embeddings import Embedder, Vec
from ai_service.planning.text import content_stems

log = logging.getLogger("rally.ai.catalogue")
CATALOGUE_DIR = Path(__file__).with_name("catalogue")
FORMAT_VERSION = 1
GENERAL = "general"  # the file of generic fillers
# Roles many kinds of plan need; never a plan's kind of activity itself.
COMMON = "common"


class CatalogueError(ValueError):
    """A catalogue file or entry that cannot be used; the message names the file and the entry."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SlotDefaults(_Model):
    place: str = Field("the meeting point", min_length=2, max_length=80)
    object: str = Field("what the plan needs", min_length=2, max_length=80)
    people: str = Field("the group", min_length=2, max_length=80)


class ActivitySpec(_Model):
    key: str
    name: str = Field(min_length=2, max_length=80)
    fits_when: str = Field(min_length=10, max_length=800)
    defaults: SlotDefaults = Field(default_factory=lambda: SlotDefaults())

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY.match(v):
            raise ValueError("key must be a lowercase slug")
        return v


class QuestionSpec(_Model):
    text: str = Field(min_length=5, max_length=200)
    type: Literal["boolean", "number", "choice", "text"]
    unit: str | None = None
    options: list[str] | None = None


@dataclass(frozen=True)
class Activity:
    spec: ActivitySpec
    roles: tuple[RoleSpec, ...]
    source: str  # file name, for messages

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass
class Catalogue:
    version: str  # content hash: recorded with every generation that used it
    activities: dict[str, Activity]
    questions: dict[str, QuestionSpec]
    generic: tuple[RoleSpec, ...] = ()
    role_count: int = 0


def _entry_error(source: str, where: str, exc: ValidationError) -> CatalogueError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    path = f"{where}.{loc}" if loc else where
    return CatalogueError(f"{source}: {path}: {first.get('msg', 'invalid')}")


def parse_activity(data: Any, source: str) -> Activity:
    """One activity file's content, validated; raises CatalogueError naming the broken entry."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}: not a mapping")
    if data.get("version") != FORMAT_VERSION:
        raise CatalogueError(f"{source}: version must be {FORMAT_VERSION}, got {data.get('version')!r}")
    try:
        spec = ActivitySpec.model_validate(data.get("activity"))
    except ValidationError as exc:
        raise _entry_error(source, "activity", exc) from exc
    raw_roles = data.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles:
        raise CatalogueError(f"{source}: roles must be a non-empty list")
    roles: list[RoleSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_roles):
        name = raw.get("key", "?") if isinstance(raw, dict) else "?"
        try:
            role = RoleSpec.model_validate(raw)
        except ValidationError as exc:
            raise _entry_error(source, f"roles[{i}] ({name})", exc) from exc
        if role.key in seen:
            raise CatalogueError(f"{source}: roles[{i}]: duplicate role key {role.key!r}")
        seen.add(role.key)
        roles.append(role)
    return Activity(spec, tuple(roles), source)


def parse_questions(data: Any, source: str) -> dict[str, QuestionSpec]:
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise CatalogueError(f"{source}: expected `version: {FORMAT_VERSION}` and `questions:`")
    raw = data.get("questions")
    if not isinstance(raw, dict):
        raise CatalogueError(f"{source}: questions must be a mapping")
    out: dict[str, QuestionSpec] = {}
    for key, value in raw.items():
        try:
            out[key] = QuestionSpec.model_validate(value)
        except ValidationError as exc:
            raise _entry_error(source, f"questions.{key}", exc) from exc
    missing = [k for k in QUESTION_KEYS if k not in out]
    if missing:
        raise CatalogueError(f"{source}: no text for the question(s) {', '.join(missing)}")
    return out


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path.name}: not valid YAML: {exc}") from exc


def _activity_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name != "questions.yaml")


def catalogue_version(directory: Path | None = None) -> str:
    """A content hash of the catalogue files: recorded as part of the builtin planner's model id."""
    directory = directory or CATALOGUE_DIR
    digest = hashlib.sha256()
    for path in [directory / "questions.yaml", *_activity_files(directory)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Every activity file, plus questions.yaml; raises CatalogueError on the first bad entry."""
    directory = directory or CATALOGUE_DIR
    files = _activity_files(directory)
    questions = parse_questions(_read_yaml(directory / "questions.yaml"), "questions.yaml")
    activities: dict[str, Activity] = {}
    generic: tuple[RoleSpec, ...] = ()
    for path in files:
        act = parse_activity(_read_yaml(path), path.name)
        if act.key != path.stem:
            raise CatalogueError(f"{path.name}: activity key {act.key!r} must match the file name")
        if act.key == GENERAL:
            generic = act.roles
        else:
            if any(r.generic for r in act.roles):
                raise CatalogueError(f"{path.name}: generic roles belong in {GENERAL}.yaml")
            activities[act.key] = act
    if not activities:
        raise CatalogueError(f"{directory}: no activity files")
    return Catalogue(version=catalogue_version(directory), activities=activities, questions=questions,
                     generic=generic, role_count=sum(len(a.roles) for a in activities.values()))


def role_text(role: RoleSpec) -> str:
    """What is embedded for a role: its name, when it fits and its task."""
    return f"{role.name}. {role.fits_when} {role.task.title}."


def activity_text(act: ActivitySpec) -> str:
    return f"{act.name}. {act.fits_when}"


class LexIndex:
    """Word evidence: the group's own words that an activity's (or a role's) texts also use.

    Each entry's words weigh 1.0 where they name it (name, fitsWhen, title) and 0.4 where they only
    appear in its instructions; a query scores every entry at once as an idf-weighted share of its
    words (a sparse matrix product: a few hundred microseconds for every role of the catalogue).
    """

    def __init__(self, activities: list[tuple[set[str], set[str]]], roles: list[tuple[set[str], set[str]]]):
        df: dict[str, int] = {}
        for strong, weak in activities:
            for w in strong | weak:
                df[w] = df.get(w, 0) + 1
        n = len(activities)
        self.idf = {w: math.log(1 + n / d) for w, d in df.items()}
        self.unknown_idf = math.log(1 + n)
        vocab = {w: i for i, w in enumerate(sorted({w for s, k in activities + roles for w in s | k}))}
        self.vocab = vocab
        self.activity_matrix = self._matrix(activities, vocab)
        self.role_matrix = self._matrix(roles, vocab)

    def _matrix(self, entries: list[tuple[set[str], set[str]]], vocab: dict[str, int]) -> sparse.csr_matrix:
        rows, cols, data = [], [], []
        for i, (strong, weak) in enumerate(entries):
            for w in strong | weak:
                rows.append(i)
                cols.append(vocab[w])
                data.append(self.idf.get(w, 0.0) * (1.0 if w in strong else 0.4))
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(entries), len(vocab)))

    def _query(self, stems: list[str]) -> tuple[npt.NDArray[np.float64], float]:
        q = np.zeros(len(self.vocab))
        for w in stems:  # repeats count: the goal's verb is passed three times
            i = self.vocab.get(w)
            if i is not None:
                q[i] += 1.0
        return q, sum(self.idf.get(w, self.unknown_idf) for w in stems)

    def scores(self, stems: list[str]) -> npt.NDArray[np.float64]:
        """Per activity, the idf-weighted share of the query's words it names (0..1)."""
        q, total = self._query(stems)
        out: npt.NDArray[np.float64] = self.activity_matrix @ q / total if total else np.zeros(
            self.activity_matrix.shape[0])
        return out

    def role_scores(self, stems: list[str]) -> npt.NDArray[np.float64]:
        q, total = self._query(stems)
        out: npt.NDArray[np.float64] = self.role_matrix @ q / total if total else np.zeros(
            self.role_matrix.shape[0])
        return out


def build_lex(catalogue: Catalogue, keys: list[str]) -> LexIndex:
    acts = [(set(content_stems(f"{a.spec.name} {a.spec.fits_when}")),
             set(content_stems(" ".join(f"{r.name} {r.fits_when} {r.task.title}" for r in a.roles))))
            for a in (catalogue.activities[k] for k in keys)]
    roles = [(set(content_stems(f"{r.name} {r.fits_when} {r.task.title}")),
              set(content_stems(f"{r.task.instructions} {r.proof.text}")))
             for k in keys for r in catalogue.activities[k].roles]
    return LexIndex(acts, roles)


@dataclass
class CatalogueIndex:
    """The catalogue plus unit vectors of every activity and role, row-aligned with `roles`."""

    catalogue: Catalogue
    activity_keys: list[str]
    activity_vecs: Vec
    roles: list[tuple[str, RoleSpec]]  # (activity key, role)
    role_vecs: Vec
    lex: LexIndex
    role_rows: dict[str, list[int]] = field(default_factory=dict)  # activity key -> rows
    # activity x its roles' rows, padded with len(roles) (read as -inf), for whole-catalogue scoring
    role_grid: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    selectable: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        # Kinds a plan can be of: every activity but the common roles.
        self.selectable = np.array([k != COMMON for k in self.activity_keys], dtype=bool)
        width = max((len(r) for r in self.role_rows.values()), default=0)
        grid = np.full((len(self.activity_keys), width), len(self.roles), dtype=np.int64)
        for i, k in enumerate(self.activity_keys):
            grid[i, : len(self.role_rows[k])] = self.role_rows[k]
        self.role_grid = grid

    @property
    def version(self) -> str:
        return self.catalogue.version


def _cache_dir() -> Path:
    base = os.environ.get("RALLY_AI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rally")
    return Path(base)


async def _embed_cached(embedder: Embedder, texts: list[str]) -> Vec:
    key = hashlib.sha256(json.dumps([embedder.model_id, texts]).encode()).hexdigest()[:20]
    path = _cache_dir() / f"catalogue-{key}.npy"
    try:
        vecs = np.load(path)
        if vecs.shape == (len(texts), vecs.shape[1]):
            return np.asarray(vecs, dtype=np.float32)
    except (OSError, ValueError):
        pass
    vecs = np.concatenate([await embedder.embed(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vecs)
        tmp.replace(path)
    except OSError as exc:  # a read-only home is no reason to fail: we only lose the cache
        log.warning("cannot cache catalogue vectors in %s: %s", path.parent, exc)
    return np.asarray(vecs, dtype=np.float32)


async def build_index(catalogue: Catalogue, embedder: Embedder) -> CatalogueIndex:
    keys = list(catalogue.activities)
    roles = [(k, r) for k in keys for r in catalogue.activities[k].roles]
    texts = [activity_text(catalogue.activities[k].spec) for k in keys] + [role_text(r) for _, r in roles]
    vecs = await _embed_cached(embedder, texts)
    rows: dict[str, list[int]] = {}
    for i, (k, _) in enumerate(roles):
        rows.setdefault(k, []).append(i)
    return CatalogueIndex(catalogue, keys, vecs[: len(keys)], roles, vecs[len(keys):],
                          build_lex(catalogue, keys), rows)


_indexes: dict[str, CatalogueIndex] = {}


async def catalogue_index(embedder: Embedder) -> CatalogueIndex:
    """The process-wide index per embedding model (built once; a broken catalogue fails loudly).

    Two concurrent first calls may both build it: harmless, and no lock has to span event loops.
    """
    index = _indexes.get(embedder.model_id)
    if index is None:
        index = await build_index(load_catalogue(), embedder)
        _indexes[embedder.model_id] = index
        log.info("role catalogue %s: %d activities, %d roles", index.version,
                 len(index.activity_keys), len(index.roles))
    return index
