"""Logs rotate: a service with RALLY_LOG_FILE rotates its JSON log by size (uvicorn's lines too),
and the files the stack hands to a child's stdout roll over when the child is (re)started."""

import json
import logging
import os
import sys
from pathlib import Path

import httpx
import pytest
from rally_shared.logs import configure_logging, rotate_file
from rally_shared.settings import SharedSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for h in root.handlers:
        h.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_log_file_rotates_by_size_and_keeps_a_few(tmp_path, restore_logging):
    log_file = tmp_path / "logs" / "session.log"
    configure_logging("session", "INFO", SharedSettings(log_file=str(log_file), log_max_bytes=2000,
                                                        log_backups=2))
    for i in range(200):
        logging.getLogger("rally.test").info("line %d of a service that talks a lot", i)
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    names = sorted(p.name for p in log_file.parent.iterdir())
    assert names == ["session.log", "session.log.1", "session.log.2"]
    assert all(p.stat().st_size <= 2000 for p in log_file.parent.iterdir())
    last = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert last[-1]["logger"] == "uvicorn.error" and last[-1]["service"] == "session"
    assert last[-2]["msg"] == "line 199 of a service that talks a lot"


def test_rotate_file_keeps_backups_and_leaves_small_files(tmp_path):
    f = tmp_path / "nats.log"
    f.write_text("small")
    rotate_file(f, 100, 2)
    assert f.read_text() == "small" and not (tmp_path / "nats.log.1").exists()
    for gen in ("a", "b", "c"):
        f.write_text(gen * 100)
        rotate_file(f, 100, 2)
        assert not f.exists()
    assert (tmp_path / "nats.log.1").read_text() == "c" * 100
    assert (tmp_path / "nats.log.2").read_text() == "b" * 100
    assert not (tmp_path / "nats.log.3").exists()


def test_a_stack_service_rotates_its_own_log(tmp_path, monkeypatch):
    """The gateway as `make run` starts it, in front of a session service that is down: each
    request logs a warning (and answers 503 with Retry-After) into 1,500-byte files."""
    sys.path.insert(0, str(ROOT / "tools"))
    from rally_shared.embedded import free_port
    from rally_shared.testing import auth, make_token
    from rally_stack import Stack

    monkeypatch.setenv("RALLY_LOG_FILE", str(tmp_path / "not-this-one.log"))  # never inherited
    st = Stack(tmp_path, database_url=os.environ["RALLY_DATABASE_URL"],
               nats_url=os.environ["RALLY_NATS_URL"], free_ports=True, only=["gateway"],
               env={"RALLY_SESSION_URL": f"http://127.0.0.1:{free_port()}",
                    "RALLY_LOG_MAX_BYTES": "1500", "RALLY_LOG_BACKUPS": "2"})
    token, _ = make_token("logger")
    try:
        st.start_service("gateway")
        for _ in range(40):
            r = httpx.get(st.url("gateway") + "/v1/sessions", headers=auth(token), timeout=10)
            assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    finally:
        st.stop()
    logs = tmp_path / "logs"
    names = {p.name for p in logs.iterdir()}
    assert {"gateway.log", "gateway.log.1", "gateway.log.2", "gateway.stderr.log"} <= names, names
    assert "gateway.log.3" not in names and not (tmp_path / "not-this-one.log").exists()
    assert all((logs / n).stat().st_size <= 1500 for n in names if n.startswith("gateway.log"))
    for line in (logs / "gateway.log").read_text().splitlines():
        assert json.loads(line)["service"] == "gateway"


def test_embedded_nats_rolls_its_log_over_when_started(tmp_path, monkeypatch):
    from rally_shared import logs
    from rally_shared.embedded import EmbeddedNats

    monkeypatch.setattr(logs, "CHILD_LOG_MAX_BYTES", 1000)
    old = "an old line of an earlier run\n" * 40
    (tmp_path / "nats.log").write_text(old)
    nats = EmbeddedNats(tmp_path)
    nats.start()
    nats.stop()
    assert (tmp_path / "nats.log.1").read_text() == old
    assert "an old line" not in (tmp_path / "nats.log").read_text()
