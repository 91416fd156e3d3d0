"""The admin service app: use cases, moderation, audit trail, analytics, the admin dashboard."""

from fastapi import APIRouter
from rally_shared.auth import AdminUser
from rally_shared.service_app import create_service_app

from admin_service.analytics import handlers as _analytics_handlers  # noqa: F401 (registers)
from admin_service.analytics.endpoints import router as analytics_router
from admin_service.audit import handlers as _audit_handlers  # noqa: F401 (registers)
from admin_service.audit.endpoints import router as audit_router
from admin_service.moderation.endpoints import router as moderation_router
from admin_service.runtime import runtime
from admin_service.ui.endpoints import router as ui_router
from admin_service.use_cases.endpoints import router as use_cases_router

me_router = APIRouter(tags=["admin"])


@me_router.get("/v1/admin/me")
async def whoami(admin: AdminUser) -> dict[str, object]:
    """The signed-in admin (403 for anyone else): the dashboard's login check."""
    return {"profileId": admin.profile_id, "name": admin.name, "roles": list(admin.roles)}


app = create_service_app(
    runtime,
    [use_cases_router, moderation_router, audit_router, analytics_router, me_router, ui_router],
    title="Rally admin service",
    description="Use cases (source of truth), moderation, the audit trail, analytics and the "
                "admin dashboard at /admin/.",
)
