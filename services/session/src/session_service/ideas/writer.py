"""The group commit that writes idea posts (rally_shared.group_commit): under load, the posts
arriving together share one transaction; at low load each is a transaction of its own."""

from __future__ import annotations

import re

from rally_shared.group_commit import GroupCommit
from rally_shared.overload import Lane
from rally_shared.service_app import ServiceRuntime
from starlette.types import Scope

from session_service.config import get_settings

_writer: dict[str, GroupCommit] = {}


def idea_writer() -> GroupCommit | None:
    """The running writer; None before start-up and after shutdown."""
    return _writer.get("ideas")


_IDEAS = re.compile(r"/v1/sessions/[^/]+/ideas/?")


def _grouped_post(scope: Scope) -> bool:
    """An idea post the writer commits: one without an Idempotency-Key (see ideas/endpoints.py)."""
    return (scope["method"] == "POST" and _IDEAS.fullmatch(scope["path"]) is not None
            and not any(k == b"idempotency-key" for k, _ in scope["headers"]))


def inflight_lane() -> Lane:
    return Lane(get_settings().max_inflight_idea_posts, _grouped_post)


async def start(rt: ServiceRuntime) -> None:
    w = GroupCommit(rt.settings.database_conninfo, name=rt.name)
    w.start()
    _writer["ideas"] = w


async def stop(rt: ServiceRuntime) -> None:
    w = _writer.pop("ideas", None)
    if w is not None:
        await w.stop()
