"""The full reference scenario under load, with a simulated LLM of fixed latency: sessions completed
per minute with N concurrent sessions (default 100, four members each).

usage: .venv/bin/python bench/scenario_throughput.py [--sessions 100] [--llm-latency-ms 500]
                                                      [--llm-concurrency 4]
Starts a simulated OpenAI-compatible chat-completions server (fixed latency; it answers the approach
with a fixed plan and the tasks with a naive assignment that Rally's matcher then repairs) and a
private stack pointed at it (RALLY_LLM_BASE_URL), unless RALLY_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any

import httpx
from _stack import gateway, machine_speed, percentile

APPROACH = {
    "title": "Cinema night", "summary": "A film together, everyone helps", "rationale": "Four complementary roles",
    "roles": [
        {"key": "driver", "name": "Driver", "description": "Drive the group", "min": 1, "max": 2, "effort": 2,
         "requires": [{"question": "has_car", "equals": True}]},
        {"key": "tickets", "name": "Tickets", "description": "Buy the tickets", "min": 1, "max": 1, "effort": 2,
         "requires": [{"question": "budget", "atLeast": 20}]},
        {"key": "snacks", "name": "Snacks", "description": "Bring popcorn", "min": 0, "max": 3, "effort": 1,
         "requires": []},
        {"key": "host", "name": "Host", "description": "Pick the film", "min": 0, "max": 3, "effort": 1,
         "requires": []}],
    "questions": [{"key": "has_car", "text": "Do you have a car you can drive?", "type": "boolean"},
                  {"key": "budget", "text": "How much can you spend (EUR)?", "type": "number", "unit": "EUR"},
                  {"key": "available", "text": "Are you free on Saturday?", "type": "boolean"}],
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MEMBERS = {"Ann": {"has_car": True, "budget": 20, "available": True},
           "Ben": {"has_car": False, "budget": 50, "available": True},
           "Cat": {"has_car": False, "budget": 0, "available": True},
           "Dan": {"has_car": True, "budget": 10, "available": True}}


class SimulatedLLM:
    def __init__(self, latency: float) -> None:
        self.latency, self.calls, self.port = latency, 0, 0

    async def start(self) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {k.lower(): v.strip() for k, _, v in
                           (ln.partition(":") for ln in head.decode().split("\r\n")[1:] if ln)}
                body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))) or b"{}")
                self.calls += 1
                await asyncio.sleep(self.latency)
                name = (body.get("response_format") or {}).get("json_schema", {}).get("name", "")
                prompt = " ".join(m.get("content", "") for m in body.get("messages", []))
                if "task" in name:
                    ids = list(dict.fromkeys(UUID.findall(prompt)))
                    content = json.dumps({"tasks": [
                        {"profileId": p, "roleKey": "snacks", "title": "Bring popcorn",
                         "instructions": "Buy popcorn for everyone and bring it to the cinema.",
                         "contentGuidance": {"text": "Post a photo of the popcorn", "proofTypes": ["image"]}}
                        for p in ids]})
                else:
                    content = json.dumps(APPROACH)
                payload = json.dumps({"id": "sim", "object": "chat.completion", "created": 0, "model": "sim",
                                      "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": content}}],
                                      "usage": {"prompt_tokens": 500, "completion_tokens": 200,
                                                "total_tokens": 700}}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(payload)).encode() + b"\r\n\r\n" + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000154a24f5d0000000049454e44ae426082")


async def poll(fn: Any, timeout: float = 600, every: float = 0.5) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = await fn()
        if v:
            return v
        await asyncio.sleep(every)
    raise TimeoutError("scenario step timed out")


class Api:
    """Every call must succeed: a failed step is a failed session, with the reason."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        r = await self.http.request(method, path, **kw)
        if r.status_code >= 400 and not (r.status_code == 404 and method == "GET"):
            raise RuntimeError(f"{method} {path} -> {r.status_code} {r.text[:200]}")
        return r


async def one_session(raw: httpx.AsyncClient, i: int) -> float:
    http = Api(raw)
    t0 = time.monotonic()
    people = {}
    for name in MEMBERS:
        r = await http("POST", "/v1/auth/dev-token", json={"name": f"{name}-{i}-{time.time()}"})
        people[name] = ({"Authorization": f"Bearer {r.json()['token']}"}, r.json()["profileId"])
    oh = people["Ann"][0]
    # A distinct description per session: identical requests would be served from the AI's cache.
    sid = (await http("POST", "/v1/sessions", headers=oh, json={"topic": "What should we do this weekend?",
                                                             "description": f"Group {i}",
                                                             "visibility": "public",
                                                             # today's behaviour: rank 1 at once
                                                             "approachChoice": "auto"})).json()["id"]
    for name in ("Ben", "Cat", "Dan"):
        await http("POST", f"/v1/sessions/{sid}/members", headers=people[name][0])
    for text, name in (("Cinema", "Ben"), ("Bowling", "Cat"), ("Picnic", "Dan")):
        await http("POST", f"/v1/sessions/{sid}/ideas", headers=people[name][0], json={"text": text})
    await http("POST", f"/v1/sessions/{sid}/phase", headers=oh, json={"to": "approaches"})

    async def approach() -> Any:
        r = await http("GET", f"/v1/sessions/{sid}/approach", headers=oh)
        return r.json() if r.status_code == 200 else None

    appr = await poll(approach)
    keys = {q["key"] for q in appr["questions"]}
    for name, facts in MEMBERS.items():
        await http("PUT", f"/v1/sessions/{sid}/answers", headers=people[name][0],
                       json={"answers": {k: v for k, v in facts.items() if k in keys}})
    await http("POST", f"/v1/sessions/{sid}/phase", headers=oh, json={"to": "tasks"})

    async def tasks() -> Any:
        r = await http("GET", f"/v1/sessions/{sid}/tasks", headers=oh)
        items = r.json().get("items", []) if r.status_code == 200 else []
        return items if len(items) == len(MEMBERS) else None

    async def phase(p: str) -> Any:
        return (await http("GET", f"/v1/sessions/{sid}", headers=oh)).json()["phase"] == p

    items = await poll(tasks)
    await poll(lambda: phase("submission"))
    by_pid = {pid: h for h, pid in people.values()}
    for t in items:
        kinds = t["contentGuidance"]["proofTypes"]
        data = {"text": "done"} if "text" in kinds else {}
        if "rating" in kinds:
            data["rating"] = "4"
        files = {"file": ("p.png", PNG, "image/png")} if "image" in kinds else None
        r = await http("POST", f"/v1/tasks/{t['id']}/posts", headers=by_pid[t["profileId"]], data=data, files=files)
        assert r.status_code in (200, 201), r.text
    await poll(lambda: phase("completed"))
    return time.monotonic() - t0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--llm-latency-ms", type=float, default=500)
    ap.add_argument("--llm-concurrency", type=int, default=4,
                    help="generations the AI service runs at once (RALLY_MAX_CONCURRENT_GENERATIONS)")
    a = ap.parse_args()
    print(machine_speed())
    llm = SimulatedLLM(a.llm_latency_ms / 1000)
    await llm.start()
    env = {"RALLY_LLM_BASE_URL": f"http://127.0.0.1:{llm.port}/v1", "RALLY_LLM_API_KEY": "sim",
           "RALLY_LLM_MODEL": "sim", "RALLY_RATE_LIMIT_PER_SECOND": "100000", "RALLY_RATE_LIMIT_BURST": "100000",
           "RALLY_BUDGET_PER_DAY_USD": "1000000", "RALLY_BUDGET_PER_SESSION_USD": "1000000",
           "RALLY_MAX_CONCURRENT_GENERATIONS": str(a.llm_concurrency)}
    loop = asyncio.get_running_loop()
    cm = gateway(env=env)
    base = await loop.run_in_executor(None, cm.__enter__)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120,
                                     limits=httpx.Limits(max_connections=200)) as http:
            t0 = time.monotonic()
            results = await asyncio.gather(*(one_session(http, i) for i in range(a.sessions)),
                                           return_exceptions=True)
            wall = time.monotonic() - t0
    finally:
        await loop.run_in_executor(None, cm.__exit__, None, None, None)
    ok = [r for r in results if isinstance(r, float)]
    failed = [r for r in results if not isinstance(r, float)]
    print(f"sessions={a.sessions} (4 members each) llm_latency={a.llm_latency_ms:.0f} ms llm_calls={llm.calls}")
    print(f"completed {len(ok)}/{a.sessions} in {wall:.1f} s -> {len(ok) / wall * 60:.1f} sessions/minute")
    if ok:
        print(f"session duration p50 {percentile(ok, 50):.1f} s, p95 {percentile(ok, 95):.1f} s")
    # Every session needs its approach and then its tasks: with `concurrency` model calls at a time,
    # no system finishes before ceil(calls / concurrency) rounds of the model's latency, nor before
    # one session's two calls in a row.
    rounds = max(-(-llm.calls // a.llm_concurrency), 2)
    bound = rounds * a.llm_latency_ms / 1000
    print(f"LLM-bound minimum {bound:.1f} s ({llm.calls} calls, {a.llm_concurrency} at a time); "
          f"all sessions done in {wall / bound:.2f} x that (goal <= 1.5)")
    for f in failed[:3]:
        import traceback

        print(f"failure: {type(f).__name__}: {f}")
        traceback.print_exception(f, limit=3)


if __name__ == "__main__":
    asyncio.run(main())
