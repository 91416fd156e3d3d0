"""The tasks service app: task assignments, proof posts with media, completion tracking."""

from rally_shared.service_app import create_service_app

# Handler modules register their subscribers on import.
from tasks_service.membership import handlers as _membership_handlers  # noqa: F401
from tasks_service.posts import handlers as _post_handlers  # noqa: F401
from tasks_service.posts.endpoints import router as posts_router
from tasks_service.runtime import runtime
from tasks_service.storage import get_storage
from tasks_service.tasks import handlers as _task_handlers  # noqa: F401
from tasks_service.tasks.endpoints import router as tasks_router


async def _check_storage(_: object) -> None:
    get_storage()  # fail at start on an unavailable storage backend, not at the first upload


runtime.on_start.append(_check_storage)

app = create_service_app(
    runtime, [tasks_router, posts_router], title="Rally tasks service",
    description="Task assignments, proof submissions with media, completion tracking.")
