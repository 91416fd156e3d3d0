from rally_shared.migrations import run_env
from tasks_service.models import SCHEMA, Base

run_env(Base.metadata, SCHEMA)
