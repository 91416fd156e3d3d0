"""Token verification with the shared secret (dev) and with an identity provider's JWKS (production)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rally_shared.auth import issue_token, verify_token
from rally_shared.errors import Unauthorized
from rally_shared.settings import SharedSettings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def rs256(key: rsa.RSAPrivateKey, kid: str = "k1", **claims: object) -> str:
    base = {"sub": "p-1", "name": "Ann", "roles": ["admin"], "iss": "https://id.example", "aud": "rally",
            "exp": int(time.time()) + 60}
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": kid})


def test_dev_tokens_round_trip():
    st = SharedSettings()
    token, pid = issue_token(st, "ann", admin=True)
    who = verify_token(st, token)
    assert who.profile_id == pid and who.is_admin


def test_production_verifies_against_the_identity_providers_keys(jwks_url):
    st = SharedSettings(auth_mode="prod", jwks_url=jwks_url, jwt_issuer="https://id.example",
                        jwt_audience="rally")
    who = verify_token(st, rs256(KEY))
    assert who.profile_id == "p-1" and who.is_admin
    with pytest.raises(Unauthorized):
        verify_token(st, rs256(OTHER))  # right key id, wrong key
    with pytest.raises(Unauthorized):
        verify_token(st, rs256(KEY, kid="unknown"))
    with pytest.raises(Unauthorized):
        verify_token(st, rs256(KEY, aud="someone-else"))
    with pytest.raises(Unauthorized):
        verify_token(st, issue_token(SharedSettings(), "forger")[0])  # an HS256 dev token is refused


def test_production_refuses_the_development_secret():
    with pytest.raises(ValueError, match="RALLY_JWT_SECRET"):
        SharedSettings(auth_mode="prod")
