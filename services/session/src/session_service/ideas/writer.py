"""The group commit that writes idea posts (rally_shared.group_commit): under load, the posts
arriving together share one transaction; at low load each is a transaction of its own."""

from __future__ import annotations

from rally_shared.group_commit import GroupCommit
from rally_shared.service_app import ServiceRuntime

_writer: dict[str, GroupCommit] = {}


def idea_writer() -> GroupCommit | None:
    """The running writer; None before start-up and after shutdown."""
    return _writer.get("ideas")


async def start(rt: ServiceRuntime) -> None:
    w = GroupCommit(rt.settings.database_conninfo, name=rt.name)
    w.start()
    _writer["ideas"] = w


async def stop(rt: ServiceRuntime) -> None:
    w = _writer.pop("ideas", None)
    if w is not None:
        await w.stop()
