"""The notify service app: in-app feed, live streams, preferences, reminders, digests, channels."""

from rally_shared.service_app import ServiceRuntime, create_service_app

from notify_service.approaches import handlers as _approach_handlers  # noqa: F401 (subscribers)
from notify_service.delivery.worker import DeliveryWorker
from notify_service.live.endpoints import close_clients
from notify_service.live.endpoints import router as live_router
from notify_service.membership import handlers as _membership_handlers  # noqa: F401 (subscribers)
from notify_service.notifications import handlers as _notification_handlers  # noqa: F401
from notify_service.notifications.endpoints import router as notifications_router
from notify_service.preferences.endpoints import router as preferences_router
from notify_service.push.endpoints import router as push_router
from notify_service.runtime import live, runtime, settings
from notify_service.scheduler import Scheduler
from notify_service.task_changes import handlers as _task_change_handlers  # noqa: F401
from notify_service.webhooks.endpoints import router as webhooks_router

workers: dict[str, Scheduler | DeliveryWorker] = {}


async def _start_workers(rt: ServiceRuntime) -> None:
    workers["scheduler"] = Scheduler(rt.sm, settings)
    workers["delivery"] = DeliveryWorker(rt.sm, settings)
    for w in workers.values():
        w.start()
    await live.start(rt.broker.connection)


async def _stop_workers(rt: ServiceRuntime) -> None:
    await live.stop()
    await close_clients()
    for w in workers.values():
        await w.stop()
    workers.clear()


runtime.on_start.append(_start_workers)
runtime.on_stop.append(_stop_workers)

app = create_service_app(
    runtime, [live_router, notifications_router, preferences_router, webhooks_router, push_router],
    title="Rally notify service",
    description="In-app notifications (unread first), the live streams, preferences, durable "
                "reminders, idea-burst grouping, daily digests, and optional e-mail / Standard "
                "Webhooks / Web Push delivery.")
