# One image recipe for every Rally service. Build from the repository root (the build context):
#   docker build --build-arg SERVICE=session --build-arg PORT=8101 -t rally/session .
# SERVICE is the folder under services/; PORT the port it serves (session 8101, ai 8102,
# tasks 8103, notify 8104, admin 8105, gateway 8080). Versions come from uv.lock, the workspace's
# one lock: the image holds only what this service needs, at the versions the tests ran with.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=<session|ai|tasks|notify|admin|gateway> is required" >&2; exit 1; }
WORKDIR /src
# The workspace and its one lock; .dockerignore keeps every tests/ folder out.
COPY pyproject.toml uv.lock ./
COPY shared/ shared/
COPY services/ services/
# uv at the version the lock holds, then exactly the service's locked dependencies (the same
# versions the tests ran with), installed into /opt/venv, not editable, without the dev group.
RUN pip install "uv==$(sed -n '/^name = "uv"$/{n;s/^version = "\(.*\)"$/\1/p;}' uv.lock)" \
    && package="$(python -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["name"])' "services/${SERVICE}/pyproject.toml")" \
    && uv sync --frozen --no-dev --no-editable --package "$package"
# What the final stage keeps of the service's folder: the migration chain, if any.
RUN mkdir -p /out && for f in alembic.ini migrations; do \
      if [ -e "services/${SERVICE}/$f" ]; then cp -r "services/${SERVICE}/$f" /out/; fi; \
    done

FROM ${PYTHON_IMAGE}
ARG SERVICE
ARG PORT
RUN test -n "$PORT" || { echo "--build-arg PORT=<the service's port> is required" >&2; exit 1; }
RUN groupadd --system --gid 10001 rally \
    && useradd --system --uid 10001 --gid rally --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin rally \
    && mkdir -p /app /data \
    && chown rally:rally /data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RALLY_DATA_DIR=/data \
    RALLY_SERVICE=${SERVICE} \
    RALLY_PORT=${PORT} \
    RALLY_GATEWAY_HOST=0.0.0.0 \
    RALLY_GATEWAY_PORT=${PORT}
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /out/ /app/services/${SERVICE}/
COPY --chown=root:root deploy/docker/ /app/deploy/
WORKDIR /app

# rally-serve: uvicorn on the service's app and port. rally-migrate (every service with a
# database): `docker run --rm -e RALLY_DATABASE_URL=... <image> rally-migrate` (compose one-shot,
# Kubernetes Job), the same as `alembic -c services/<svc>/alembic.ini upgrade head`.
# rally-healthcheck: /healthz on the service's port. RALLY_GATEWAY_*: read by the gateway only
# (it binds every interface in a container, so dev tokens are refused off loopback by default).
RUN printf '#!/bin/sh\nexec uvicorn %s_service.main:app --host 0.0.0.0 --port %s --no-access-log --timeout-graceful-shutdown 10 --timeout-keep-alive 65 "$@"\n' \
      "$SERVICE" "$PORT" > /usr/local/bin/rally-serve \
    && printf '#!/bin/sh\nexec python /app/deploy/rally_migrate.py /app/services/%s "$@"\n' "$SERVICE" \
      > /usr/local/bin/rally-migrate \
    && printf '#!/bin/sh\nexec python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(\047http://127.0.0.1:%s/healthz\047, timeout=4).status == 200 else 1)"\n' \
      "$PORT" > /usr/local/bin/rally-healthcheck \
    && chmod 0755 /usr/local/bin/rally-serve /usr/local/bin/rally-migrate /usr/local/bin/rally-healthcheck

USER 10001:10001
EXPOSE ${PORT}
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["rally-healthcheck"]
CMD ["rally-serve"]
