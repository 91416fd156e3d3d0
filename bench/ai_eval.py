"""Evaluate the AI service's planner on topics it was not written for.

Command (from the repository root; the builtin provider unless RALLY_LLM_BASE_URL is set):

    .venv/bin/python bench/ai_eval.py                  # embedded Postgres under .rally/bench-ai-pg
    .venv/bin/python bench/ai_eval.py --verbose        # every plan: roles, sources, questions
    .venv/bin/python bench/ai_eval.py --latency 50     # more samples of the 12-member timing
    .venv/bin/python bench/ai_eval.py --database-url postgresql://...   # an existing database

Topics live in bench/ai_eval_topics.yaml (written without looking at the role catalogue): each
has a topic, ideas with who posted them and comments, 3-8 members with facts (car, budget,
languages ...), the kinds of activity a fitting plan may draw on, and the concepts a person
would expect its roles and tasks to name. Each runs the real pipeline of services/ai: use cases
indexed with the local embedding model into pgvector, the session matched, the approach
generated and checked, the members' answers derived from their facts, the tasks generated,
checked and repaired.

Printed, per topic and overall, with the goals of the planner issue:
- concept coverage: share of expected concepts the roles and tasks name, after removing the
  group's own topic, description, ideas and comments from the text (goal >= 0.8); "strict" also
  drops every single word the group wrote;
- generic roles: share of all roles that are fillers (goal <= 0.2);
- common roles: share of roles many kinds of plan share (spreading the word, lifts, money, safety),
  chosen by fit; shown for transparency, they count neither as generic nor as unrelated;
- chosen: the best-supported idea leads the plan, on topics built to test it (goal: all);
- unrelated: roles taken from a kind of activity the topic does not involve (goal 0);
- hard-rule violations after repair (goal 0);
- latency of approach + tasks for 12 members, p50/p95 (goal p95 <= 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ROOT / "bench" / "ai_eval_topics.yaml"

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

# Question key -> member fact it is answered from.
FACT_OF = {"has_car": "car", "can_drive": "drive", "budget": "budget", "available": "available",
           "has_laptop": "laptop", "has_tools": "tools", "can_lift": "lift", "can_cook": "cook",
           "speaks_language": "language", "first_aid": "first_aid", "can_code": "code",
           "can_design": "design", "has_space": "space", "has_camera": "camera"}


def answer_for(question: dict[str, Any], facts: dict[str, Any]) -> Any:
    """A member's answer: by the question's key when the planner's, else by reading its text."""
    key = question.get("key", "")
    fact = FACT_OF.get(key)
    if fact is None:
        text = (key + " " + question.get("text", "")).lower()
        for words, f in ((("car", "vehicle"), "car"), (("drive", "driv", "licen"), "drive"),
                         (("budget", "money", "spend", "afford", "eur", "cost", "pay"), "budget"),
                         (("availab", "free", "attend", "join"), "available")):
            if any(w in text for w in words):
                fact = f
                break
    v = facts.get(fact) if fact else None
    if fact == "drive" and v is None:
        v = facts.get("car")
    qtype = question.get("type")
    if qtype == "boolean":
        return bool(v) if v is not None else True
    if qtype == "number":
        return (1 if v else 0) if isinstance(v, bool) else (v if isinstance(v, int | float) else 0)
    if qtype == "choice":
        opts = question.get("options") or []
        return opts[0] if opts else None
    return "Happy to help." if v is None else str(v)


def _stem(w: str) -> str:
    for suf in ("ing", "es", "ed", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def concept_pattern(alt: str) -> re.Pattern[str]:
    parts = [re.escape(_stem(w)) + r"\w*" for w in alt.lower().split()]
    return re.compile(r"\b" + r"[\s-]+".join(parts) + r"\b")


def without_group(text: str, group: list[str], strict: bool) -> str:
    """The plan's text with the group's own phrases (strict: also every word they wrote) removed."""
    out = text.lower()
    for phrase in sorted({g.lower().strip(" .!?") for g in group if g.strip()}, key=len, reverse=True):
        out = out.replace(phrase, " ")
    if strict:
        gw = {_stem(w) for g in group for w in re.findall(r"[a-z]+", g.lower()) if len(w) > 2}
        out = " ".join(w for w in re.findall(r"[a-z][a-z'-]*", out) if _stem(w) not in gw)
    return out


def coverage(concepts: list[str], text: str) -> tuple[float, list[str]]:
    missing = [c for c in concepts if not any(concept_pattern(a).search(text) for a in c.split("|"))]
    return (1 - len(missing) / len(concepts) if concepts else 1.0), missing


def plan_text(approach: dict[str, Any], tasks: list[dict[str, Any]]) -> str:
    parts = []
    for r in approach["roles"]:
        parts += [r["name"], r.get("description", "")]
        t = r.get("task") or {}
        parts += [t.get("title", ""), t.get("instructions", ""), t.get("proofText", "")]
    for t in tasks:
        parts += [t["title"], t["instructions"], t["contentGuidance"]["text"]]
    return " \n ".join(parts)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return 0.0
    k = min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))
    return xs[k]


def session_input(topic: dict[str, Any], kind: str, **extra: Any) -> Any:
    from ai_service.planning.context import CommentInfo, GenerationInput, IdeaInfo, MemberInfo

    members = topic["members"]
    ideas = tuple(IdeaInfo(text=str(i["text"]), profile_id=f"m{i.get('by', 0)}", id=f"i{k}",
                           comments=tuple(CommentInfo(f"m{c.get('by', 0)}", str(c["text"]))
                                          for c in i.get("comments") or []))
                  for k, i in enumerate(topic.get("ideas") or []))
    mem = tuple(MemberInfo(f"m{k}", f"Member {k}") for k in range(len(members)))
    return GenerationInput(kind=kind, session_id="bench", topic=topic["topic"],
                           description=topic.get("description") or "", ideas=tuple(i.text for i in ideas),
                           idea_items=ideas, members=extra.pop("members", mem), **extra)


async def run_topic(topic: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    from ai_service.generations.pipeline import generate
    from ai_service.planning.context import MemberInfo
    from ai_service.planning.rules import task_violations
    from ai_service.usecases.service import match_use_case
    from rally_shared.db import unit_of_work

    t0 = time.perf_counter()
    async with unit_of_work(ctx["sm"]) as s:
        uc, _ = await match_use_case(s, ctx["embedder"], topic=topic["topic"],
                                     description=topic.get("description") or "",
                                     ideas=[i["text"] for i in topic.get("ideas") or []], explicit_id=None,
                                     threshold=ctx["settings"].usecase_match_threshold)
    a = await generate(session_input(topic, "approach", use_case=uc), ctx["provider"], fallback=ctx["fallback"])
    assert a.approach is not None
    answered = tuple(MemberInfo(f"m{k}", f"Member {k}", {} if f is None else {
        q["key"]: answer_for(q, f) for q in a.output["questions"]}) for k, f in enumerate(topic["members"]))
    t = await generate(session_input(topic, "tasks", use_case=uc, members=answered, approach=a.approach),
                       ctx["provider"], fallback=ctx["fallback"])
    elapsed = time.perf_counter() - t0
    answers = {m.profile_id: m.answers for m in answered}
    violation_list = list(a.checks["violationsAfter"]) + task_violations(a.approach, answers, t.tasks)
    violations = len(violation_list)
    group = [topic["topic"], topic.get("description") or ""]
    for i in topic.get("ideas") or []:
        group.append(str(i["text"]))
        group += [str(c["text"]) for c in i.get("comments") or []]
    tasks = t.output["tasks"]
    text = plan_text(a.output, tasks)
    cov, missing = coverage(topic["concepts"], without_group(text, group, strict=False))
    strict, _ = coverage(topic["concepts"], without_group(text, group, strict=True))
    roles = a.output["roles"]
    allowed = set(topic.get("activities") or [])
    unrelated = [r["key"] + "<-" + r["source"].split(":", 1)[1] for r in roles
                 if str(r.get("source", "")).startswith("catalogue:")
                 and r["source"].split(":", 1)[1] not in allowed]
    expect = topic.get("expectChosen")
    return {
        "name": topic["name"], "n": len(topic["members"]), "kind": topic.get("kind", ""),
        "coverage": cov, "strict": strict, "missing": missing,
        "generic": sum(1 for r in roles if r.get("source") == "generic"), "roles": len(roles),
        "common": sum(1 for r in roles if r.get("source") == "common"),
        "chosen": None if not expect else expect in (a.output.get("ideas") or []),
        "unrelated": unrelated, "violations": violations, "violation_list": violation_list,
        "title": a.output["title"],
        "use_case": uc.title if uc else None, "provider": a.provider, "seconds": elapsed,
        "gen_seconds": [a.latency_s, t.latency_s], "providers": [a.provider, t.provider],
        "approach": a.output, "tasks": tasks, "alternatives": [x["title"] for x in a.output.get("alternatives", [])],
    }


async def latency_12(ctx: dict[str, Any], samples: int) -> list[float]:
    """Approach + tasks for a 12-member group, the planner alone (no database), `samples` times."""
    from ai_service.generations.pipeline import generate
    from ai_service.planning.context import MemberInfo

    topic = {"topic": "Organise the street party on our road", "description": "Twelve neighbours, one Saturday.",
             "members": [{"car": k % 3 == 0, "budget": k * 5, "available": k % 4 != 0} for k in range(12)],
             "ideas": [{"text": t, "by": k % 12, "comments": [{"by": (k + 1) % 12, "text": "Yes, count me in"}]}
                       for k, t in enumerate(["Barbecue and salads", "Bouncy castle for the kids",
                                              "Ask the council to close the road", "Live music on a stage",
                                              "Bunting and tables in the street", "Cake stall for the school"])]}
    out = []
    base = [dict(i) for i in topic["ideas"]]
    for k in range(samples):
        # New words every sample, so no embedding comes from the planner's cache.
        topic["description"] = f"Twelve neighbours, one Saturday, street number {k + 1}."
        topic["ideas"] = [{**i, "text": f"{i['text']} (plan {k + 1})"} for i in base]
        t0 = time.perf_counter()
        a = await generate(session_input(topic, "approach"), ctx["provider"], fallback=ctx["fallback"])
        assert a.approach is not None
        answered = tuple(MemberInfo(f"m{k}", f"Member {k}", {q["key"]: answer_for(q, f) for q in a.output["questions"]})
                         for k, f in enumerate(topic["members"]))
        await generate(session_input(topic, "tasks", members=answered, approach=a.approach), ctx["provider"],
                       fallback=ctx["fallback"])
        out.append(time.perf_counter() - t0)
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    roles = sum(r["roles"] for r in rows)
    chosen = [r["chosen"] for r in rows if r["chosen"] is not None]
    gens = [p for r in rows for p in r["providers"]]
    lat = [x for r in rows for x in r["gen_seconds"]]
    return {
        "coverage": statistics.mean(r["coverage"] for r in rows),
        "strict": statistics.mean(r["strict"] for r in rows),
        "generic": sum(r["generic"] for r in rows) / max(roles, 1), "roles": roles,
        "common": sum(r["common"] for r in rows) / max(roles, 1),
        "chosen": sum(chosen), "chosen_of": len(chosen),
        "unrelated": sum(len(r["unrelated"]) for r in rows),
        "violations": sum(r["violations"] for r in rows),
        "completed": sum(1 for r in rows if r["violations"] == 0 and r["tasks"]) / len(rows),
        "by_model": sum(1 for p in gens if not p.startswith("builtin")) / max(len(gens), 1),
        "p50": pct(lat, 0.5), "p95": pct(lat, 0.95),
    }


def print_rows(rows: list[dict[str, Any]], verbose: bool) -> None:
    print(f"{'topic':30} {'n':>2} {'kind':7} {'cover':>5} {'strict':>6} {'gen':>3} {'chosen':>6} "
          f"{'unrel':>5} {'viol':>4}  approach (use case)")
    for r in rows:
        chosen = "-" if r["chosen"] is None else ("yes" if r["chosen"] else "NO")
        print(f"{r['name'][:30]:30} {r['n']:>2} {r['kind'][:7]:7} {r['coverage']:>5.2f} {r['strict']:>6.2f} "
              f"{r['generic']:>3} {chosen:>6} {len(r['unrelated']):>5} {r['violations']:>4}  "
              f"{r['title'][:50]} ({r['use_case'] or '-'})")
        if verbose:
            print(f"      by: {' / '.join(r['providers'])}")
            if r["violation_list"]:
                print(f"      VIOLATIONS: {r['violation_list']}")
            print(f"      missing: {', '.join(r['missing']) or '-'}; unrelated: {', '.join(r['unrelated']) or '-'}")
            print(f"      alternatives: {r['alternatives']}")
            for role in r["approach"]["roles"]:
                print(f"      - {role['name']} [{role.get('source')}] requires "
                      f"{[q['question'] for q in role['requires']]}")
            print(f"      questions: {[q['text'] for q in r['approach']['questions']]}")


FIGURES = [  # label, key, format, goal
    ("concept coverage (mean)", "coverage", "{:.2f}", ">= 0.80"),
    ("  with strict word removal", "strict", "{:.2f}", ""),
    ("generic roles (share)", "generic", "{:.2f}", "<= 0.20"),
    ("common roles (share)", "common", "{:.2f}", ""),
    ("best-supported idea chosen", "chosen", "{}", "all"),
    ("roles from an unrelated activity", "unrelated", "{}", "0"),
    ("hard-rule violations after repair", "violations", "{}", "0"),
    ("completed (plan + tasks, no violation)", "completed", "{:.0%}", "100%"),
    ("generations answered by a model", "by_model", "{:.0%}", ""),
    ("per generation p50 (s)", "p50", "{:.3f}", ""),
    ("per generation p95 (s)", "p95", "{:.3f}", ""),
]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default="")
    ap.add_argument("--topics", default=str(TOPICS))
    ap.add_argument("--endpoint", default="", help="an OpenAI-compatible base URL: compare it with the builtin")
    ap.add_argument("--model", default="", help="the model name at --endpoint")
    ap.add_argument("--latency", type=int, default=30, help="samples of the 12-member timing (builtin)")
    ap.add_argument("--only", default="", help="run only topics whose name contains this")
    ap.add_argument("--limit", type=int, default=0, help="run only the first N topics")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--dump", default="", help="write every plan (approach and tasks) as JSON to this file")
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
    from ai_service.planning.catalogue import catalogue_index
    from ai_service.providers import make_provider
    from ai_service.providers.builtin import BuiltinProvider
    from ai_service.usecases.service import upsert_use_case
    from rally_shared.contracts.admin import UseCaseUpserted

    settings = Settings(database_url=url)
    embedder = get_embedder(settings)
    builtin = BuiltinProvider(embedder)
    providers: list[tuple[Any, Any]] = [(builtin, None)]
    if args.endpoint:
        model_settings = Settings(database_url=url, llm_base_url=args.endpoint, llm_provider="openai",
                                  llm_model=args.model or settings.llm_model)
        providers.append((make_provider(model_settings, embedder), builtin))
    elif settings.llm_base_url:
        providers = [(make_provider(settings, embedder), builtin)]
    engine = make_engine(SharedSettings(database_url=url).async_database_url, pool_size=2)
    sm = make_sessionmaker(engine)
    async with unit_of_work(sm) as s:
        for title, prompt, cat, tags in USE_CASES:
            await upsert_use_case(s, UseCaseUpserted(
                use_case_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{title}")), title=title, prompt=prompt,
                category=cat, tags=tags, template_style="friendly and concrete"), embedder)
    index = await catalogue_index(embedder)
    topics = [t for t in yaml.safe_load(Path(args.topics).read_text()) if args.only in t["name"]]
    topics = topics[: args.limit] if args.limit else topics
    results = []
    for provider, fallback in providers:
        ctx = {"sm": sm, "embedder": embedder, "provider": provider, "fallback": fallback, "settings": settings}
        rows = [await run_topic(t, ctx) for t in topics]
        lat = await latency_12(ctx, args.latency) if args.latency and provider is builtin else []
        results.append((provider, rows, lat))
    await engine.dispose()

    print(f"catalogue {index.version}: {len(index.activity_keys)} activities, {len(index.roles)} roles; "
          f"topics: {len(topics)}")
    for provider, rows, _ in results:
        print(f"\n--- {provider.name} ({provider.model})")
        print_rows(rows, args.verbose)
    if args.dump:
        Path(args.dump).write_text(json.dumps({p.name: [{k: r[k] for k in ("name", "approach", "tasks", "missing")}
                                                        for r in rows] for p, rows, _ in results}, indent=1))
    sums = [summary(rows) for _, rows, _ in results]
    print()
    print(f"{'':40}" + "".join(f"{p.name:>14}" for p, _, _ in results) + "   goal")
    for label, key, fmt, goal in FIGURES:
        cells = []
        for sm_ in sums:
            value = f"{sm_['chosen']}/{sm_['chosen_of']}" if key == "chosen" else fmt.format(sm_[key])
            cells.append(f"{value:>14}")
        print(f"{label:40}" + "".join(cells) + f"   {goal}")
    for provider, _, lat in results:
        if lat:
            print(f"{provider.name}: approach + tasks, 12 members: p50 {pct(lat, 0.5) * 1000:.1f} ms, "
                  f"p95 {pct(lat, 0.95) * 1000:.1f} ms (goal p95 <= 100 ms; {len(lat)} samples)")
    first = sums[0]
    ok = (first["violations"] == 0 and first["chosen"] == first["chosen_of"] and first["generic"] <= 0.2
          and first["unrelated"] == 0 and first["coverage"] >= 0.8)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
