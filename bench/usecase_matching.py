"""Use-case matching latency and recall with pgvector: HNSW index vs exact scan, at 100, 10 000 and
100 000 use cases (384-dimensional unit vectors, cosine distance, as the AI service stores them).

usage: .venv/bin/python bench/usecase_matching.py [--sizes 100,10000,100000] [--queries 200]
Uses an embedded Postgres (pgvector) in a temporary directory unless RALLY_BENCH_DATABASE_URL is set.
Vectors are synthetic (clustered Gaussian, L2-normalised) so 100 000 rows build in minutes, not hours
of model inference; recall@k compares HNSW's top-k with the exact top-k for the same query.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from _stack import percentile

DIM = 384


def vectors(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    idx = rng.integers(0, len(centers), n)
    v = centers[idx] + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def lit(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


def run(url: str, sizes: list[int], queries: int, k: int) -> None:
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((64, DIM)).astype(np.float32)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        print(f"{'use cases':>10} {'build s':>8} {'exact p50':>10} {'exact p95':>10} {'hnsw p50':>9} "
              f"{'hnsw p95':>9} {'recall@1':>9} {'recall@10':>10}")
        for n in sizes:
            conn.execute("DROP TABLE IF EXISTS bench_use_cases")
            conn.execute(f"CREATE TABLE bench_use_cases (id int primary key, embedding vector({DIM}))")
            data = vectors(n, rng, centers)
            with conn.cursor().copy("COPY bench_use_cases (id, embedding) FROM STDIN") as cp:
                for i, v in enumerate(data):
                    cp.write_row((i, lit(v)))
            conn.execute("ANALYZE bench_use_cases")
            qs = vectors(queries, rng, centers)
            sql = f"SELECT id FROM bench_use_cases ORDER BY embedding <=> %s::vector LIMIT {k}"
            exact_lat, exact_ids = [], []
            conn.execute("SET enable_indexscan = off")
            for q in qs:
                t0 = time.perf_counter()
                exact_ids.append([r[0] for r in conn.execute(sql, (lit(q),))])
                exact_lat.append(time.perf_counter() - t0)
            conn.execute("SET enable_indexscan = on")
            t0 = time.perf_counter()
            conn.execute("CREATE INDEX ON bench_use_cases USING hnsw (embedding vector_cosine_ops) "
                         "WITH (m = 16, ef_construction = 64)")
            build = time.perf_counter() - t0
            conn.execute("SET hnsw.ef_search = 40")
            hnsw_lat, r1, r10 = [], 0, 0.0
            for q, truth in zip(qs, exact_ids, strict=True):
                t0 = time.perf_counter()
                got = [r[0] for r in conn.execute(sql, (lit(q),))]
                hnsw_lat.append(time.perf_counter() - t0)
                r1 += int(bool(got) and got[0] == truth[0])
                r10 += len(set(got) & set(truth)) / len(truth)
            ms = 1000
            print(f"{n:>10} {build:>8.1f} {percentile(exact_lat, 50) * ms:>10.2f} "
                  f"{percentile(exact_lat, 95) * ms:>10.2f} {percentile(hnsw_lat, 50) * ms:>9.2f} "
                  f"{percentile(hnsw_lat, 95) * ms:>9.2f} {r1 / queries:>9.3f} {r10 / queries:>10.3f}")
        conn.execute("DROP TABLE IF EXISTS bench_use_cases")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    a = ap.parse_args()
    url = os.environ.get("RALLY_BENCH_DATABASE_URL")
    if not url:
        from rally_shared.embedded import start_postgres, stop_postgres

        tmp = Path(tempfile.mkdtemp(prefix="rally-bench-pg-"))
        try:
            run(start_postgres(tmp, "bench"), [int(s) for s in a.sizes.split(",")], a.queries, a.k)
        finally:
            stop_postgres(tmp)
        return
    run(url, [int(s) for s in a.sizes.split(",")], a.queries, a.k)


if __name__ == "__main__":
    main()
