"""What tracing costs per HTTP request: the shared RequestContextMiddleware (request id, latency
metric, JSON access line) around a trivial FastAPI endpoint, driven in-process through ASGI (no
sockets, so the middleware's own cost is not hidden by the network), with tracing off and on.

On is the production set-up: a server span per request, batched and exported over OTLP/HTTP
(protobuf) by the background thread to an endpoint in another process; once starting a new trace,
once continuing a `traceparent` header, and once keeping 1 trace in 10 (OTEL_TRACES_SAMPLER). Each
round ends with a flush inside the timing, so the export of every span (encoding, HTTP) is counted;
the queue is made large enough that none is dropped. Wall time is the request path plus export, CPU time is the process's (all its threads).
Rounds alternate between the set-ups; the best round of each is reported (as timeit does: on a
shared machine the other rounds measure the neighbours).

usage: python bench/tracing_overhead.py [--requests 4000 --rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared" / "src"))

from fastapi import FastAPI  # noqa: E402
from rally_shared.logs import JsonFormatter  # noqa: E402
from rally_shared.service_app import NO_FASTAPI_TELEMETRY, RequestContextMiddleware  # noqa: E402
from rally_shared.settings import SharedSettings  # noqa: E402
from rally_shared.testing import OtlpReceiver  # noqa: E402
from rally_shared.tracing import flush, service_tracer  # noqa: E402

TRACEPARENT = [(b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]


def make_app(tracer: Any) -> Any:
    app = FastAPI(telemetry=NO_FASTAPI_TELEMETRY)

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.add_middleware(RequestContextMiddleware, service="bench", tracer=tracer)
    return app.build_middleware_stack()


async def drive(app: Any, n: int, headers: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """(wall, CPU) seconds per request for n requests through the ASGI app, the export included."""
    body = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: dict[str, Any]) -> None:
        pass

    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        path = f"/v1/things/{i}"
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"bench"), *headers],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        await app(scope, receive, send)
    flush(30_000)
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def receive_spans() -> None:
    """The OTLP endpoint, in a process of its own so that parsing the spans costs the measured
    process nothing: prints its address, then the number of spans received once stdin closes."""
    with OtlpReceiver() as receiver:
        print(receiver.endpoint, flush=True)
        sys.stdin.read()
        print(len(receiver.received()), flush=True)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        receive_spans()
        return
    # The access line is written as in production, to a file nobody reads.
    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(JsonFormatter("bench"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)

    receiver = subprocess.Popen([sys.executable, __file__, "--receiver"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdin is not None and receiver.stdout is not None
    try:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.stdout.readline().strip()
        os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(args.requests + 1000)  # count every span's export
        off = make_app(service_tracer("bench-off", SharedSettings(otel_exporter="none")))
        on = make_app(service_tracer("bench", SharedSettings(otel_exporter="otlp")))
        # The standard sampler variables, read when a service's tracer is made: 1 trace in 10 kept.
        os.environ.update(OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")
        sampled = make_app(service_tracer("bench-sampled", SharedSettings(otel_exporter="otlp")))
        setups = {"off": (off, []), "on, new trace": (on, []), "on, continues traceparent": (on, TRACEPARENT),
                  "on, 10 % of traces sampled": (sampled, [])}
        for app, headers in setups.values():
            await drive(app, 300, headers)  # warm-up
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
        for _ in range(args.rounds):
            for name, (app, headers) in setups.items():
                results[name].append(await drive(app, args.requests, headers))
        receiver.stdin.close()
        exported = int(receiver.stdout.readline())
    finally:
        if not receiver.stdin.closed:
            receiver.stdin.close()
        receiver.wait(timeout=30)

    def best(name: str, which: int) -> float:
        return min(r[which] for r in results[name])

    print(f"{args.requests} requests x {args.rounds} rounds per set-up, best round "
          f"(Python {sys.version.split()[0]}); per request:")
    for name in results:
        line = f"  tracing {name:<26}"
        for which, label in ((0, "wall"), (1, "CPU")):
            per, base = best(name, which), best("off", which)
            line += f"  {label} {per * 1e6:6.1f} us"
            line += f" (+{(per - base) * 1e6:5.1f})" if name != "off" else " " * 9
        print(line)
    per_setup = 300 + args.requests * args.rounds
    print(f"  spans received by the OTLP endpoint: {exported} (expected {2 * per_setup} from the two "
          f"set-ups keeping every trace, plus about {per_setup // 10} from the sampled one)")


if __name__ == "__main__":
    asyncio.run(main())
