"""The public API's documents, built once by `make api-docs` (tools/api_docs.py) and committed here:
the merged OpenAPI of every service, the AsyncAPI of every event, and the Swagger UI page. The edge
serves them as files (Caddy in `make run`), the gateway where no edge does; a test fails when they
fall behind the code. Swagger UI's own scripts come from the swagger-ui-bundle package at `/_docs/`.
"""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).resolve().parent
# public path -> file in DIR
FILES = {"/openapi.json": "openapi.json", "/asyncapi.json": "asyncapi.json", "/docs": "docs.html"}
SWAGGER_PREFIX = "/_docs"
