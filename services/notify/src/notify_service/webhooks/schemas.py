"""Webhook endpoint API schemas: the one response that shows a rotated secret."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel


class WebhookSecretRotated(CamelModel):
    webhook_secret: str = Field(
        description="The endpoint's new signing secret (`whsec_...`). Shown in this response only: "
                    "store it now.")
    webhook_secret_created_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        None, description="Until then every delivery is signed with the previous secret as well "
                          "(null when there was none).")
