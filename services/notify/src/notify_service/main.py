"""The notify service app: in-app feed, live push, preferences, reminders, digests, channels."""

from rally_shared.service_app import ServiceRuntime, create_service_app

from notify_service.approaches import handlers as _approach_handlers  # noqa: F401 (subscribers)
from notify_service.delivery.worker import DeliveryWorker
from notify_service.membership import handlers as _membership_handlers  # noqa: F401 (subscribers)
from notify_service.notifications import handlers as _notification_handlers  # noqa: F401
from notify_service.notifications.endpoints import router as notifications_router
from notify_service.preferences.endpoints import router as preferences_router
from notify_service.push.endpoints import router as push_router
from notify_service.runtime import runtime, settings
from notify_service.scheduler import Scheduler
from notify_service.task_changes import handlers as _task_change_handlers  # noqa: F401
from notify_service.webhooks.endpoints import router as webhooks_router

workers: dict[str, Scheduler | DeliveryWorker] = {}


async def _start_workers(rt: ServiceRuntime) -> None:
    workers["scheduler"] = Scheduler(rt.sm, settings)
    workers["delivery"] = DeliveryWorker(rt.sm, settings)
    for w in workers.values():
        w.start()


async def _stop_workers(rt: ServiceRuntime) -> None:
    for w in workers.values():
        await w.stop()
    workers.clear()


runtime.on_start.append(_start_workers)
runtime.on_stop.append(_stop_workers)

app = create_service_app(
    runtime, [notifications_router, preferences_router, webhooks_router, push_router],
    title="Rally notify service",
    description="In-app notifications (unread first), preferences, durable reminders, idea-burst "
                "grouping, daily digests, and optional e-mail / Standard Webhooks / Web Push delivery.")
