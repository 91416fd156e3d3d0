from rally_shared.migrations import run_env
from ai_service.models import SCHEMA, Base

run_env(Base.metadata, SCHEMA, extensions=("vector",))
