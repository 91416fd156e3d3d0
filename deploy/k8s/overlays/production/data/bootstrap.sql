-- Rally's database layout. CloudNativePG runs this once, as the superuser, in the application
-- database right after initdb (Cluster rally-db, bootstrap.initdb.postInitApplicationSQLRefs).
--
-- Each service with a database logs in as its own role and owns exactly one schema, named after it
-- (its tables and its Alembic version table live there). No role has any right on another's
-- schema, and none may create schemas, extensions or objects in `public`. The roles are created
-- here without LOGIN so that they own their schemas from the start; the Cluster's managed roles
-- (postgres.yaml) then give them LOGIN and the passwords of the Secrets rally-db-<service>.
-- Adding a service: a role and a schema here (existing clusters: run the same three statements by
-- hand), a managed role in postgres.yaml, its Secret (db-secrets.sh) and its container in the
-- migration Job.

-- pgvector, for the ai service's embeddings. Its migration's CREATE EXTENSION IF NOT EXISTS then
-- finds it and needs no right to create extensions.
CREATE EXTENSION IF NOT EXISTS vector;

-- Only the database owner and the service roles below may connect.
REVOKE ALL ON DATABASE rally FROM PUBLIC;
-- No role but the owner creates anything in `public` (the default since Postgres 15; explicit).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE ROLE "session" NOLOGIN;
GRANT CONNECT ON DATABASE rally TO "session";
CREATE SCHEMA "session" AUTHORIZATION "session";

CREATE ROLE "ai" NOLOGIN;
GRANT CONNECT ON DATABASE rally TO "ai";
CREATE SCHEMA "ai" AUTHORIZATION "ai";

CREATE ROLE "tasks" NOLOGIN;
GRANT CONNECT ON DATABASE rally TO "tasks";
CREATE SCHEMA "tasks" AUTHORIZATION "tasks";

CREATE ROLE "notify" NOLOGIN;
GRANT CONNECT ON DATABASE rally TO "notify";
CREATE SCHEMA "notify" AUTHORIZATION "notify";

CREATE ROLE "admin" NOLOGIN;
GRANT CONNECT ON DATABASE rally TO "admin";
CREATE SCHEMA "admin" AUTHORIZATION "admin";
