# Real Postgres and NATS for every test in the repository (see rally_shared.testing).
pytest_plugins = ["rally_shared.testing"]
