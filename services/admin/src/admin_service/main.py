"""The admin service app: use cases, session types, moderation, audit, analytics, the dashboard."""

from fastapi import APIRouter
from rally_shared.auth import AdminUser
from rally_shared.db import unit_of_work
from rally_shared.service_app import ServiceRuntime, create_service_app

from admin_service.analytics import handlers as _analytics_handlers  # noqa: F401 (registers)
from admin_service.analytics.endpoints import router as analytics_router
from admin_service.audit import handlers as _audit_handlers  # noqa: F401 (registers)
from admin_service.audit.endpoints import router as audit_router
from admin_service.moderation.endpoints import router as moderation_router
from admin_service.runtime import runtime
from admin_service.session_types.endpoints import router as session_types_router
from admin_service.session_types.service import seed_builtins
from admin_service.ui.endpoints import router as ui_router
from admin_service.use_cases.endpoints import router as use_cases_router

me_router = APIRouter(tags=["admin"])


@me_router.get("/v1/admin/me")
async def whoami(admin: AdminUser) -> dict[str, object]:
    """The signed-in admin (403 for anyone else): the dashboard's login check."""
    return {"profileId": admin.profile_id, "name": admin.name, "roles": list(admin.roles)}


async def _seed_session_types(rt: ServiceRuntime) -> None:
    """The built-in session types exist (and are published) once the service has started."""
    async with unit_of_work(rt.sm) as s:
        await seed_builtins(s)


runtime.on_start.append(_seed_session_types)

app = create_service_app(
    runtime,
    [use_cases_router, session_types_router, moderation_router, audit_router, analytics_router,
     me_router, ui_router],
    title="Rally admin service",
    description="Use cases and session types (source of truth), moderation, the audit trail, "
                "analytics and the admin dashboard at /admin/.",
)
