from ai_service.models import SCHEMA, Base
from rally_shared.migrations import run_env

run_env(Base.metadata, SCHEMA, extensions=("vector",))
