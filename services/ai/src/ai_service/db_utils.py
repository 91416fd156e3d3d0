"""Small helpers shared by the modules of this service."""

from __future__ import annotations

from datetime import datetime

from rally_shared.db import utcnow


def now() -> datetime:
    return utcnow()
