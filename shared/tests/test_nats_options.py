"""NATS connection settings: nothing by default (make run, the tests), a user, TLS and a private
inbox when production sets them. A real server checks them in tests/integration/test_nats_auth_tls.py."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rally_shared.messaging.broker import make_broker, nats_connect_options, nats_inbox_prefix
from rally_shared.settings import SharedSettings


def _ca_file(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_by_default_no_credentials_no_tls_and_the_usual_inbox() -> None:
    settings = SharedSettings()
    assert nats_connect_options(settings) == {"inbox_prefix": "_INBOX"}
    make_broker("nats://127.0.0.1:4222", settings)  # builds without security


def test_production_settings_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = _ca_file(tmp_path)
    monkeypatch.setenv("RALLY_NATS_USER", "session")
    monkeypatch.setenv("RALLY_NATS_PASSWORD", "s3cret-value")
    monkeypatch.setenv("RALLY_NATS_CA_FILE", str(ca))
    settings = SharedSettings()
    assert "s3cret-value" not in repr(settings)  # not in logs or tracebacks
    options = nats_connect_options(settings)
    assert (options["user"], options["password"]) == ("session", "s3cret-value")
    # Replies under the user's own prefix, the one nats.conf lets this user subscribe to.
    assert options["inbox_prefix"] == nats_inbox_prefix(settings) == "_INBOX_session"
    tls: ssl.SSLContext = options["tls"]
    assert tls.verify_mode == ssl.CERT_REQUIRED and tls.check_hostname
    assert [c["subject"] for c in tls.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    make_broker("tls://nats-0.nats-headless:4222", settings)


def test_a_missing_ca_file_fails_at_start_not_at_the_first_reconnect(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nats_connect_options(SharedSettings(nats_ca_file=str(tmp_path / "absent.crt")))
