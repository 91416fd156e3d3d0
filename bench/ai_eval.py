"""Evaluate the AI service's generation pipeline on scenarios of different topics and groups.

Command (from the repository root; the builtin provider unless RALLY_LLM_BASE_URL is set):

    .venv/bin/python bench/ai_eval.py                 # embedded Postgres under .rally/bench-ai-pg
    .venv/bin/python bench/ai_eval.py --repeat 3      # more latency samples
    RALLY_LLM_BASE_URL=http://127.0.0.1:11434/v1 RALLY_LLM_MODEL=qwen2.5 .venv/bin/python bench/ai_eval.py
    .venv/bin/python bench/ai_eval.py --database-url postgresql://...   # an existing database

Each scenario runs the real pipeline of services/ai: the use cases are indexed with the local
embedding model into pgvector (the service's own migration and code), the session is matched,
the approach is generated and normalised, members answer its questions (the way the acceptance
check does: by reading keys and texts), and the tasks are generated, checked and repaired.
Printed: use-case match accuracy, hard-rule violations before/after repair, roles per approach,
duplicate tasks, role coverage, effort balance (Gini) and latency p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

USE_CASES = [
    ("Group outing", "Plan a weekend activity the whole group does together: split the work so "
     "everyone contributes something real (transport, tickets, food, booking).", "leisure",
     ["weekend", "outing", "friends", "activity"]),
    ("Fundraiser", "Organise a fundraising effort for a good cause: split outreach, logistics, "
     "money handling and promotion among the members.", "community", ["charity", "money", "donations"]),
    ("Exam study group", "Prepare a group for an exam: divide topics, make summaries, quiz each "
     "other, book a room.", "education", ["exam", "study", "university"]),
    ("Office relocation", "Move a team to a new office: packing, IT, furniture, address changes.",
     "work", ["office", "move"]),
    ("Neighbourhood clean-up", "Clean a park or street together: supplies, permits, sorting waste, "
     "promotion.", "community", ["park", "litter", "volunteer"]),
]

# facts per member: (car, budget, available) or None for a member who answers nothing.
F = tuple[bool, Any, bool] | None
SCENARIOS: list[dict[str, Any]] = [
    {"name": "reference", "topic": "What should we do this weekend?",
         "description": "Four friends, one free weekend.", "ideas": ["Go to the cinema", "Bowling", "Picnic in the park"],
         "expect": "Group outing", "members": [(True, 20, True), (False, 50, True), (False, 0, True), (True, 10, True)]},
    {"name": "fundraiser-6", "topic": "Raise money for the animal shelter", "description": "",
         "ideas": ["Bake sale at school", "Sponsored charity run"], "expect": "Fundraiser",
         "members": [(False, 0, True), (True, 30, True), (False, 5, True), None, (False, 100, False), (False, 0, True)]},
    {"name": "study-no-cars-5", "topic": "Calculus final in June", "description": "We all failed the midterm.",
         "ideas": ["Split the chapters", "Practice exams every Friday"], "expect": "Exam study group",
         "members": [(False, 0, True)] * 5},
    {"name": "cleanup-8", "topic": "Clean up the river bank", "description": "Lots of litter after the summer.",
         "ideas": ["Bring gloves and bags", "Ask the council for a skip"], "expect": "Neighbourhood clean-up",
         "members": [(True, 20, True), None, (False, 0, True), (False, 15, True), None, (True, 0, False),
                  (False, 40, True), (False, 0, True)]},
    {"name": "office-move-10", "topic": "Our team moves to the new office in March",
         "description": "Forty desks, two server racks.", "ideas": ["Hire movers", "Pack by department"],
         "expect": "Office relocation",
         "members": [(True, 0, True), (False, 0, True), (False, 0, False), (True, 0, True), (False, 0, True),
                  None, (False, 0, True), (True, 0, True), (False, 0, True), (False, 0, True)]},
    {"name": "hike-broke-3", "topic": "A hike this Saturday?", "description": "None of us has money or a car.",
         "ideas": ["Hike up the hill", "Picnic at the top"], "expect": "Group outing",
         "members": [(False, 0, True), (False, 0, True), (False, 0, True)]},
    {"name": "unrelated-knitting-4", "topic": "Learn to knit together", "description": "",
         "ideas": ["Scarves for winter"], "expect": None,
         "members": [(False, 0, True), (False, 10, True), None, (True, 5, True)]},
    {"name": "outing-conflicts-12", "topic": "Weekend trip to the lake", "description": "Big group, mixed answers.",
         "ideas": ["Swim and barbecue at the lake", "Rent boats"], "expect": "Group outing",
         "members": [(True, 0, False), (True, 80, True), (False, "lots", True), None, (False, -5, True),
                  (True, 20, True), (False, 0, False), None, (False, 35, True), (True, 10, True),
                  (False, 0, True), (False, 25, False)]},
    {"name": "bake-sale-silent-7", "topic": "Charity bake sale for the hospital", "description": "",
         "ideas": ["Cakes and cookies", "Donations box"], "expect": "Fundraiser", "members": [None] * 7},
    {"name": "exam-12", "topic": "Prepare the biology exam together", "description": "Twelve students.",
         "ideas": ["Each one summarises a chapter", "Quiz night before the exam"], "expect": "Exam study group",
         "members": [(i % 3 == 0, i * 5, i % 4 != 0) for i in range(12)]},
    {"name": "park-cleanup-3", "topic": "Volunteer clean-up of our park", "description": "",
         "ideas": ["Pick up litter on Sunday"], "expect": "Neighbourhood clean-up",
         "members": [(True, 50, True), None, (False, 0, True)]},
    {"name": "move-conflicts-4", "topic": "Move the office to the new address", "description": "",
         "ideas": ["Pack boxes", "Set up the network"], "expect": "Office relocation",
         "members": [(True, 0, False), (True, 0, False), (False, 0, True), None]},
]


def answer_for(question: dict[str, Any], facts: dict[str, Any]) -> Any:
    """Answer a question from facts by its key and text, as /work/shared/acceptance/reference.py does."""
    key = (question.get("key", "") + " " + question.get("text", "")).lower()
    qtype = question.get("type")
    if any(w in key for w in ("car", "drive", "driv", "vehicle", "licen")):
        v = facts["car"]
    elif any(w in key for w in ("budget", "money", "spend", "afford", "eur", "cost", "pay")):
        v = facts["budget"]
    elif any(w in key for w in ("availab", "free", "time", "when", "saturday", "sunday", "attend", "join")):
        v = facts["available"]
    else:
        v = None
    if qtype == "boolean":
        return bool(v) if v is not None else True
    if qtype == "number":
        if isinstance(v, bool):
            return 1 if v else 0
        return v if v is not None else 0
    if qtype == "choice":
        opts = question.get("options") or []
        return opts[0] if opts else None
    return "Happy to help." if v is None else str(v)


def gini(values: list[float]) -> float:
    if not values or sum(values) == 0:
        return 0.0
    xs = sorted(values)
    n = len(xs)
    cum = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cum) / (n * sum(xs)) - (n + 1) / n


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return 0.0
    k = min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))
    return xs[k]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default="")
    ap.add_argument("--repeat", type=int, default=1, help="runs per scenario (latency samples)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "services" / "ai" / "src"))
    sys.path.insert(0, str(ROOT / "shared" / "src"))
    url = args.database_url
    if not url:
        from rally_shared.embedded import start_postgres

        url = start_postgres(ROOT / ".rally" / "bench-ai-pg", "bench_ai")
    from rally_shared.db import make_engine, make_sessionmaker, unit_of_work
    from rally_shared.migrations import upgrade
    from rally_shared.settings import SharedSettings

    upgrade(ROOT / "services" / "ai", url)
    from ai_service.config import Settings
    from ai_service.embeddings import get_embedder
    from ai_service.generations.pipeline import generate
    from ai_service.planning.context import GenerationInput, MemberInfo
    from ai_service.planning.rules import task_violations
    from ai_service.providers import make_provider
    from ai_service.providers.builtin import BuiltinProvider
    from ai_service.usecases.service import match_use_case, upsert_use_case
    from rally_shared.contracts.admin import UseCaseUpserted

    settings = Settings(database_url=url)
    provider = make_provider(settings)
    fallback = BuiltinProvider() if settings.llm_fallback == "builtin" and provider.name != "builtin" else None
    embedder = get_embedder(settings)
    engine = make_engine(SharedSettings(database_url=url).async_database_url, pool_size=2)
    sm = make_sessionmaker(engine)
    async with unit_of_work(sm) as s:
        for title, prompt, cat, tags in USE_CASES:
            await upsert_use_case(s, UseCaseUpserted(
                use_case_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{title}")), title=title, prompt=prompt,
                category=cat, tags=tags, template_style="friendly and concrete"), embedder)

    rows: list[dict[str, Any]] = []
    lat_a: list[float] = []
    lat_t: list[float] = []
    for _ in range(args.repeat):
        for sc in SCENARIOS:
            facts: list[F] = sc["members"]
            t0 = time.perf_counter()
            async with unit_of_work(sm) as s:
                uc, score = await match_use_case(s, embedder, topic=sc["topic"], description=sc["description"],
                                                 ideas=sc["ideas"], explicit_id=None,
                                                 threshold=settings.usecase_match_threshold)
            base = {"kind": "approach", "session_id": "bench", "topic": sc["topic"], "description": sc["description"],
                        "ideas": tuple(sc["ideas"]), "use_case": uc}
            members = tuple(MemberInfo(f"m{i}", f"Member {i}") for i in range(len(facts)))
            a = await generate(GenerationInput(members=members, **base), provider, fallback=fallback)
            lat_a.append(time.perf_counter() - t0)
            assert a.approach is not None
            answered = []
            for i, f in enumerate(facts):
                ans = {} if f is None else {
                    q["key"]: answer_for(q, {"car": f[0], "budget": f[1], "available": f[2]})
                    for q in a.output["questions"]}
                answered.append(MemberInfo(f"m{i}", f"Member {i}", ans))
            t1 = time.perf_counter()
            base["kind"] = "tasks"
            t = await generate(GenerationInput(members=tuple(answered), approach=a.approach, **base),
                               provider, fallback=fallback)
            lat_t.append(time.perf_counter() - t1)
            answers = {m.profile_id: m.answers for m in answered}
            after = task_violations(a.approach, answers, t.tasks)
            roles = {r.key: r for r in a.approach.roles}
            used = {x.role_key for x in t.tasks}
            per_member: dict[str, int] = {}
            for x in t.tasks:
                per_member[x.profile_id] = per_member.get(x.profile_id, 0) + 1
            texts = [(x.title, x.instructions) for x in t.tasks]
            rows.append({
                "name": sc["name"], "n": len(facts), "matched": (uc.title if uc else None), "score": score,
                "ok": (uc.title if uc else None) == sc["expect"], "roles": len(roles),
                "violations_before": len(a.checks["violationsBefore"]) + len(t.checks["violationsBefore"]),
                "violations_after": len(a.checks["violationsAfter"]) + len(after),
                "duplicate_assignments": sum(v - 1 for v in per_member.values() if v > 1)
                + sum(1 for m in answers if m not in per_member),
                "identical_tasks": len(texts) - len(set(texts)),
                "coverage": len(used & set(roles)) / len(roles),
                "gini": gini([float(roles[x.role_key].effort) for x in t.tasks]),
                "title": a.output["title"], "assignment": sorted(x.role_key for x in t.tasks)})
    await engine.dispose()

    print(f"provider: {provider.name} ({provider.model}); scenarios: {len(SCENARIOS)} x {args.repeat}")
    print(f"{'scenario':24} {'n':>3} {'use case (score)':34} {'ok':>3} {'roles':>5} {'viol b/a':>8} "
          f"{'dup':>4} {'same':>4} {'cover':>6} {'gini':>5}  approach")
    for r in rows[: len(SCENARIOS)]:
        uc_txt = f"{r['matched'] or '-'} ({r['score']:.2f})"
        print(f"{r['name']:24} {r['n']:>3} {uc_txt:34} {'y' if r['ok'] else 'N':>3} {r['roles']:>5} "
              f"{r['violations_before']:>3}/{r['violations_after']:<4} {r['duplicate_assignments']:>4} "
              f"{r['identical_tasks']:>4} {r['coverage']:>6.2f} {r['gini']:>5.2f}  {r['title']}")
        if args.verbose:
            print("    ", r["assignment"])
    acc = sum(r["ok"] for r in rows) / len(rows)
    print()
    print(f"use-case match accuracy:          {acc:.0%}")
    print(f"hard-rule violations before/after: {sum(r['violations_before'] for r in rows)} / "
          f"{sum(r['violations_after'] for r in rows)}")
    print(f"roles per approach (mean, range): {statistics.mean(r['roles'] for r in rows):.2f} "
          f"({min(r['roles'] for r in rows)}-{max(r['roles'] for r in rows)})")
    print(f"duplicate tasks (member with != 1 task): {sum(r['duplicate_assignments'] for r in rows)}; "
          f"identical task texts: {sum(r['identical_tasks'] for r in rows)}")
    print(f"role coverage (mean):             {statistics.mean(r['coverage'] for r in rows):.2f}")
    print(f"effort Gini (mean, max):          {statistics.mean(r['gini'] for r in rows):.3f}, "
          f"{max(r['gini'] for r in rows):.3f}")
    print(f"latency approach p50/p95:         {pct(lat_a, 0.5) * 1000:.1f} / {pct(lat_a, 0.95) * 1000:.1f} ms "
          "(incl. use-case matching)")
    print(f"latency tasks    p50/p95:         {pct(lat_t, 0.5) * 1000:.1f} / {pct(lat_t, 0.95) * 1000:.1f} ms")
    return 0 if all(r["violations_after"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
