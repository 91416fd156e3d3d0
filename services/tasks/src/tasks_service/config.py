"""Tasks service settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from rally_shared.settings import SharedSettings


class Settings(SharedSettings):
    # Where local media lives: RALLY_TASKS_MEDIA_DIR, else RALLY_DATA_DIR/media.
    data_dir: str = Field(".rally", validation_alias=AliasChoices("RALLY_DATA_DIR", "data_dir"))
    tasks_media_dir: str = ""
    # local (default) | s3 (any S3-compatible object store)
    tasks_storage: str = "local"
    tasks_s3_bucket: str = ""
    tasks_s3_endpoint_url: str = ""  # empty = AWS; set for MinIO, Ceph, R2 ...
    tasks_s3_region: str = "us-east-1"
    tasks_s3_access_key_id: str = ""
    tasks_s3_secret_access_key: str = ""
    max_upload_bytes: int = Field(
        10 * 1024 * 1024,
        validation_alias=AliasChoices("RALLY_MAX_UPLOAD_BYTES", "max_upload_bytes"), ge=1)
    # A valid post completes the task at once; false leaves it `submitted` until the owner accepts.
    tasks_auto_accept: bool = True

    @property
    def media_dir(self) -> Path:
        return Path(self.tasks_media_dir) if self.tasks_media_dir else Path(self.data_dir) / "media"


@lru_cache
def get_settings() -> Settings:
    return Settings()
