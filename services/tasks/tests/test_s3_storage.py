"""The S3-compatible storage against a local S3 server speaking the real protocol over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rally_shared.embedded import free_port
from tasks_service.storage import S3Storage

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_mod = pytest.importorskip("moto.server", reason="moto[server] provides the local S3 endpoint")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def storage(endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(bucket, endpoint_url=endpoint, access_key_id="test", secret_access_key="test")


async def test_put_get_delete_round_trip(s3_endpoint: str) -> None:
    st = storage(s3_endpoint, "rally-media")
    st.client.create_bucket(Bucket="rally-media")
    await st.put("session-1/media-1", PNG, "image/png")
    assert await st.get("session-1/media-1") == PNG
    head = st.client.head_object(Bucket="rally-media", Key="session-1/media-1")
    assert head["ContentType"] == "image/png" and head["ContentLength"] == len(PNG)
    await st.delete("session-1/media-1")
    assert await st.get("session-1/media-1") is None
    assert await st.get("never/stored") is None


async def test_a_missing_bucket_is_an_error_not_a_silent_loss(s3_endpoint: str) -> None:
    st = storage(s3_endpoint, "no-such-bucket")
    with pytest.raises(Exception, match="NoSuchBucket"):
        await st.put("k", b"x", "text/plain")


async def test_proof_photos_go_to_the_bucket_when_configured(client, s3_endpoint, monkeypatch) -> None:
    from tasks_helpers import make_group
    from tasks_service import storage
    from tasks_service.config import get_settings

    settings = get_settings()
    for k, v in {"tasks_storage": "s3", "tasks_s3_bucket": "rally-proofs", "tasks_s3_endpoint_url": s3_endpoint,
                 "tasks_s3_access_key_id": "test", "tasks_s3_secret_access_key": "test"}.items():
        monkeypatch.setattr(settings, k, v)
    storage.get_storage.cache_clear()
    try:
        s3 = storage.get_storage()
        assert isinstance(s3, S3Storage)
        s3.client.create_bucket(Bucket="rally-proofs")
        g = await make_group(client, [["image"]])
        task = g.task_of(g.owner)
        r = await client.post(f"/v1/tasks/{task['id']}/posts", files={"file": ("p.png", PNG, "image/png")},
                              headers=g.owner.h)
        assert r.status_code == 201, r.text
        media = r.json()["media"]
        keys = [o["Key"] for o in s3.client.list_objects_v2(Bucket="rally-proofs").get("Contents", [])]
        assert any(k.endswith(media["id"]) for k in keys)
        got = await client.get(media["url"], headers=g.owner.h)
        assert got.status_code == 200 and got.content == PNG
    finally:
        storage.get_storage.cache_clear()
