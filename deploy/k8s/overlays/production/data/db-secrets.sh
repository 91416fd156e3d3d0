#!/bin/sh
# Creates the database Secret of every service role, once, before the first apply:
#   deploy/k8s/overlays/production/data/db-secrets.sh [NAMESPACE]    (default: rally)
# rally-db-<service> (kubernetes.io/basic-auth) holds
#   username, password             the role's login; the Cluster's managed roles set it (postgres.yaml)
#   RALLY_DATABASE_URL             the service's URL, through PgBouncer (rally-db-pooler)
#   RALLY_MIGRATE_DATABASE_URL     the migration Job's URL, straight to the primary (rally-db-rw)
# An existing Secret is left as it is (its password is in use). To change a password, edit all
# three values of the Secret together; the operator applies the new password (label cnpg.io/reload).
set -eu
namespace="${1:-rally}"
database=rally
for role in session ai tasks notify admin; do
  secret="rally-db-$role"
  if kubectl -n "$namespace" get secret "$secret" >/dev/null 2>&1; then
    echo "$secret exists, kept"
    continue
  fi
  # 32 hex digits: nothing in it needs escaping in a URL.
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  kubectl -n "$namespace" create secret generic "$secret" --type=kubernetes.io/basic-auth \
    --from-literal=username="$role" \
    --from-literal=password="$password" \
    --from-literal=RALLY_DATABASE_URL="postgresql://$role:$password@rally-db-pooler:5432/$database?sslmode=require" \
    --from-literal=RALLY_MIGRATE_DATABASE_URL="postgresql://$role:$password@rally-db-rw:5432/$database?sslmode=require"
  kubectl -n "$namespace" label secret "$secret" cnpg.io/reload=true
done
