/* Rally admin dashboard: a small hand-written SPA over the same origin's /v1 API (no libraries). */
"use strict";

const TOKEN_KEY = "rally.admin.token";
const PHASES = ["ideation", "approaches", "tasks", "submission", "completed"];
const $main = document.getElementById("main");

// ---- tiny DOM helpers (text is always set as text, never parsed as HTML) ----------------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the strict CSP
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const SVGNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined)
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return el;
}
function render(...nodes) { $main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined)); window.scrollTo(0, 0); }
function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 2600);
}
const fmtDate = (v) => (v ? new Date(v).toLocaleString() : "—");
const fmtPct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 1000) / 10} %`);
function fmtSecs(v) {
  if (v === null || v === undefined) return "—";
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 90) return `${Math.round(v * 10) / 10} s`;
  if (v < 5400) return `${Math.round(v / 60)} min`;
  return `${Math.round(v / 360) / 10} h`;
}
const badge = (text, cls) => h("span", { class: `badge ${cls || text || ""}` }, text || "—");
function progress(done, total, pct) {
  const p = pct ?? (total ? (100 * done) / total : 0);
  return h("div", { class: "progress", title: `${done}/${total} tasks done` },
    h("div", { class: "bar" }, h("i", { style: `width:${Math.max(0, Math.min(100, p))}%` })),
    h("small", {}, `${Math.round(p)} %`));
}

// ---- API ----------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status; this.body = body;
  }
}
const token = () => localStorage.getItem(TOKEN_KEY);
async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (token() && !opts.anonymous) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { error: { message: "The server cannot be reached." } });
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) p.set(k, v);
  const q = p.toString();
  return q ? `?${q}` : "";
};
// One place that turns API errors into pages: 401 -> sign in again, 403 -> admins only.
function failed(err) {
  if (err.status === 401) { signOut("Your session has ended. Please sign in again."); return; }
  if (err.status === 403) { adminsOnly(); return; }
  render(h("div", { class: "error" }, err.message));
}

// ---- auth ---------------------------------------------------------------------------------
function claims() {
  try {
    const part = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch (e) { return {}; }
}
function signOut(message) {
  localStorage.removeItem(TOKEN_KEY);
  showChrome(false);
  if (location.hash !== "#/login") location.hash = "#/login";
  loginPage(message);
}
function showChrome(on) {
  document.getElementById("nav").hidden = !on;
  document.getElementById("who").hidden = !on;
  if (on) document.getElementById("who-name").textContent = claims().name || "admin";
}
document.getElementById("logout").addEventListener("click", () => signOut());

function loginPage(message) {
  showChrome(false);
  const err = h("div", { class: "error", hidden: !message, id: "login-error" }, message || "");
  const tokenBox = h("textarea", { id: "token", name: "token", rows: 4, placeholder: "eyJhbGciOi…", required: true });
  const nameBox = h("input", { id: "dev-name", name: "name", value: "Admin", required: true });
  const accept = async (tok) => {
    localStorage.setItem(TOKEN_KEY, tok);
    try {
      await api("GET", "/v1/admin/me");
      showChrome(true);
      location.hash = "#/sessions";
      route();
    } catch (e) {
      if (e.status === 403) { showChrome(true); adminsOnly(); return; }
      localStorage.removeItem(TOKEN_KEY);
      err.textContent = e.status === 401 ? "That token is not valid." : e.message; err.hidden = false;
    }
  };
  render(h("div", { class: "center" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "The dashboard uses the same token as the Rally API."),
    err,
    h("form", { class: "panel stack", id: "token-form", onsubmit: (e) => { e.preventDefault(); accept(tokenBox.value.trim()); } },
      h("label", {}, "Bearer token", tokenBox),
      h("button", { type: "submit" }, "Sign in")),
    h("form", { class: "panel stack", id: "dev-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api("POST", "/v1/auth/dev-token", { name: nameBox.value.trim(), admin: true }, { anonymous: true });
        await accept(r.token);
      } catch (x) {
        err.textContent = x.status === 404 ? "Dev tokens are not available here (dev mode off or no gateway)." : x.message;
        err.hidden = false;
      }
    } },
      h("h3", {}, "Development mode"),
      h("label", {}, "Name", nameBox),
      h("button", { type: "submit", class: "secondary" }, "Get a dev admin token"))));
}

function adminsOnly() {
  document.getElementById("nav").hidden = true;
  render(h("div", { class: "center", id: "admins-only" },
    h("h1", {}, "Admins only"),
    h("p", {}, `You are signed in as ${claims().name || "a member"}, who is not an admin.`),
    h("p", { class: "muted" }, "Ask an administrator for access, or sign in with an admin token."),
    h("button", { type: "button", onclick: () => signOut() }, "Use another token")));
}

// ---- sessions -----------------------------------------------------------------------------
async function sessionsPage() {
  const phase = h("select", { id: "phase-filter" }, h("option", { value: "" }, "All phases"),
    PHASES.map((p) => h("option", { value: p }, p)));
  const q = h("input", { type: "search", placeholder: "Search topics", id: "session-search" });
  const body = h("tbody");
  const more = h("div", { class: "more" });
  let cursor = null;
  const load = async (reset) => {
    if (reset) { body.replaceChildren(); cursor = null; }
    const page = await api("GET", `/v1/admin/sessions${qs({ phase: phase.value, q: q.value, limit: 50, cursor })}`);
    for (const it of page.items) {
      body.append(h("tr", { class: "click", "data-session": it.id, onclick: () => { location.hash = `#/sessions/${it.id}`; } },
        h("td", {}, h("a", { href: `#/sessions/${it.id}` }, it.topic)),
        h("td", {}, badge(it.phase), it.deletedAt ? [" ", badge("deleted")] : null),
        h("td", { class: "hide-sm" }, it.useCase.title ? `${it.useCase.title}` : h("span", { class: "muted" }, "—"),
          it.useCase.score != null ? h("div", { class: "muted small" }, `${it.useCase.matchedBy} · ${it.useCase.score.toFixed(2)}`) : null),
        h("td", { class: "hide-sm" }, it.members),
        h("td", {}, progress(it.tasks.done, it.tasks.total, it.completionPct),
          h("div", { class: "muted small" }, `${it.tasks.done}/${it.tasks.total} tasks`)),
        h("td", { class: "hide-sm muted small" }, fmtDate(it.updatedAt))));
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No sessions yet.")));
    cursor = page.nextCursor;
    more.replaceChildren(cursor ? h("button", { class: "secondary", onclick: () => load(false).catch(failed) }, "Load more") : "");
  };
  phase.addEventListener("change", () => load(true).catch(failed));
  let t; q.addEventListener("input", () => { clearTimeout(t); t = setTimeout(() => load(true).catch(failed), 250); });
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Sessions"), h("p", { class: "muted" }, "Every session, its phase and how far its tasks are.")),
      h("div", { class: "row", style: "max-width:480px" }, q, phase)),
    h("div", { class: "panel table-wrap" }, h("table", { id: "sessions-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", {}, "Phase"), h("th", { class: "hide-sm" }, "Use case"),
        h("th", { class: "hide-sm" }, "Members"), h("th", {}, "Progress"), h("th", { class: "hide-sm" }, "Updated"))), body), more));
  await load(true);
}

async function sessionPage(id) {
  const d = await api("GET", `/v1/admin/sessions/${encodeURIComponent(id)}`);
  render(
    h("p", {}, h("a", { href: "#/sessions" }, "← Sessions")),
    h("div", { class: "head" }, h("div", {}, h("h1", {}, d.topic), h("p", { class: "muted" }, `Session ${d.id}`)),
      h("div", {}, badge(d.phase), d.deletedAt ? [" ", badge("deleted")] : null)),
    h("div", { class: "kpis" },
      kpi(`${Math.round(d.completionPct)} %`, "completion"), kpi(`${d.tasks.done}/${d.tasks.total}`, "tasks done"),
      kpi(d.members, "members"), kpi(d.ideas, "ideas"), kpi(fmtPct(d.answerRate), "answer rate"), kpi(d.regenerations, "regenerations")),
    h("div", { class: "panel" }, h("h2", {}, "Progress"), progress(d.tasks.done, d.tasks.total, d.completionPct)),
    h("div", { class: "panel" }, h("h2", {}, "Matched use case"),
      d.useCase.title ? h("p", {}, h("b", {}, d.useCase.title), " ", h("span", { class: "muted" },
        `(${d.useCase.matchedBy}${d.useCase.score != null ? `, score ${d.useCase.score.toFixed(2)}` : ""})`)) : h("p", { class: "muted" }, "None yet.")),
    h("div", { class: "panel" }, h("h2", {}, "Phases"), h("div", { class: "timeline" },
      d.phases.map((p) => h("div", {}, badge(p.phase), h("div", { class: "small" }, fmtDate(p.enteredAt)),
        h("div", { class: "muted small" }, p.seconds == null ? "current" : fmtSecs(p.seconds)))))),
    h("div", { class: "grid-2" },
      h("div", { class: "panel table-wrap" }, h("h2", {}, "Members"), h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Ideas"), h("th", {}, "Answered"))),
        h("tbody", {}, d.memberList.map((m) => h("tr", {}, h("td", {}, m.name || m.profileId.slice(0, 8), m.leftAt ? h("span", { class: "muted small" }, " (left)") : null), h("td", {}, m.ideas), h("td", {}, m.answered ? "yes" : "no")))))),
      h("div", { class: "panel table-wrap" }, h("h2", {}, "AI generations"), h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Kind"), h("th", {}, "Status"), h("th", {}, "Latency"))),
        h("tbody", {}, d.generations.map((g) => h("tr", {},
          h("td", {}, g.generationId ? h("a", { href: `#/generations/${g.generationId}` }, g.kind) : g.kind),
          h("td", {}, badge(g.status)), h("td", {}, fmtSecs(g.latencySeconds)))))))));
}
const kpi = (value, label) => h("div", { class: "kpi" }, h("b", {}, value ?? "—"), h("span", {}, label));

// ---- analytics ----------------------------------------------------------------------------
function barChart(rows, opts = {}) {
  const w = 520, bh = 26, gap = 8, left = opts.left || 100, hgt = rows.length * (bh + gap) + 4;
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h("div", { class: "chart" }, s("svg", { viewBox: `0 0 ${w} ${hgt}`, role: "img", "aria-label": opts.label || "bar chart" },
    rows.map((r, i) => {
      const y = i * (bh + gap), bw = ((w - left - 60) * r.value) / max;
      return s("g", {},
        s("text", { x: 0, y: y + bh / 2 + 4 }, r.label),
        s("rect", { x: left, y, width: Math.max(bw, 1.5), height: bh, rx: 5, fill: r.color || "#6366f1" }),
        s("text", { x: left + bw + 6, y: y + bh / 2 + 4 }, r.text ?? r.value));
    })));
}
function lineChart(daily, series) {
  const w = 1100, ht = 240, pad = { l: 34, r: 12, t: 10, b: 24 };
  const days = daily.map((d) => d.day);
  const max = Math.max(1, ...daily.flatMap((d) => series.map((s2) => d.values[s2.key] || 0)));
  const x = (i) => pad.l + (i * (w - pad.l - pad.r)) / Math.max(1, days.length - 1);
  const y = (v) => ht - pad.b - (v * (ht - pad.t - pad.b)) / max;
  const grid = [0, 0.5, 1].map((f) => s("g", {},
    s("line", { x1: pad.l, x2: w - pad.r, y1: y(max * f), y2: y(max * f), stroke: "#eceef6" }),
    s("text", { x: 0, y: y(max * f) + 4 }, Math.round(max * f))));
  const labels = days.map((d, i) => ((i % 7 === 0 && i < days.length - 4) || i === days.length - 1)
    ? s("text", { x: x(i) - 14, y: ht - 6 }, d.slice(5)) : null);
  const lines = series.map((se) => s("polyline", { fill: "none", stroke: se.color, "stroke-width": 2.2,
    "stroke-linejoin": "round", points: daily.map((d, i) => `${x(i)},${y(d.values[se.key] || 0)}`).join(" ") }));
  return h("div", { class: "chart wide" }, s("svg", { viewBox: `0 0 ${w} ${ht}`, role: "img", "aria-label": "activity per day" }, grid, labels, lines),
    h("div", { class: "legend" }, series.map((se) => h("span", {}, h("i", { style: `background:${se.color}` }), se.label))));
}

async function analyticsPage() {
  const a = await api("GET", "/v1/admin/analytics");
  const colors = { ideation: "#f59e0b", approaches: "#0ea5e9", tasks: "#8b5cf6", submission: "#ec4899", completed: "#22c55e" };
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Analytics"), h("p", { class: "muted" }, `Built from events · ${fmtDate(a.generatedAt)}`)),
      h("button", { class: "secondary", onclick: () => analyticsPage().catch(failed) }, "Refresh")),
    h("div", { class: "kpis", id: "kpis" },
      kpi(a.totals.sessions, "sessions"), kpi(a.totals.completedSessions, "completed"), kpi(a.totals.deletedSessions, "deleted"), kpi(a.totals.members, "members"),
      kpi(a.ideasPerMember ?? "—", "ideas per member"), kpi(fmtPct(a.answerRate), "answer rate"),
      kpi(fmtPct(a.taskCompletionRate), "task completion"), kpi(fmtSecs(a.ai.avgLatencySeconds), "AI latency (avg)"),
      kpi(fmtPct(a.ai.failureRate), "AI failures")),
    h("div", { class: "grid-2" },
      h("div", { class: "panel" }, h("h2", {}, "Sessions per phase"),
        barChart(PHASES.map((p) => ({ label: p, value: a.sessionsPerPhase[p] || 0, color: colors[p] })), { label: "sessions per phase" })),
      h("div", { class: "panel" }, h("h2", {}, "Average time in each phase"),
        a.phaseDurations.length ? barChart(a.phaseDurations.map((p) => ({ label: p.phase, value: p.avgSeconds, text: fmtSecs(p.avgSeconds), color: colors[p.phase] })), { label: "time per phase" })
          : h("p", { class: "muted" }, "No phase has been left yet."))),
    h("div", { class: "panel" }, h("h2", {}, "Activity, last 30 days"),
      lineChart(a.daily, [{ key: "sessions_created", label: "sessions", color: "#6366f1" },
        { key: "ideas_posted", label: "ideas", color: "#f59e0b" }, { key: "tasks_completed", label: "tasks done", color: "#22c55e" },
        { key: "generations_failed", label: "AI failures", color: "#dc2626" }])),
    h("div", { class: "panel table-wrap" }, h("h2", {}, "Per use case"), h("table", { id: "use-case-stats" },
      h("thead", {}, h("tr", {}, h("th", {}, "Use case"), h("th", {}, "Sessions"), h("th", { class: "hide-sm" }, "Completed"),
        h("th", {}, "Task completion"), h("th", { class: "hide-sm" }, "Avg match score"))),
      h("tbody", {}, a.useCases.length ? a.useCases.map((u) => h("tr", {}, h("td", {}, u.title), h("td", {}, u.sessions),
        h("td", { class: "hide-sm" }, u.completedSessions), h("td", {}, progress(u.tasksDone, u.tasks, u.tasks ? (100 * u.tasksDone) / u.tasks : 0)),
        h("td", { class: "hide-sm" }, u.avgScore ?? "—"))) : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No sessions yet."))))),
    h("div", { class: "grid-2" },
      h("div", { class: "panel" }, h("h2", {}, "AI quality"), h("table", {}, h("tbody", {},
        [["Generations", a.ai.generations], ["Succeeded", a.ai.succeeded], ["Failed", a.ai.failed], ["In flight", a.ai.inFlight],
         ["Latency p50 / p95", `${fmtSecs(a.ai.p50LatencySeconds)} / ${fmtSecs(a.ai.p95LatencySeconds)}`],
         ["Regenerations", a.ai.regenerations],
         ["Ratings", a.ai.ratings.count ? `${a.ai.ratings.average} / 5 (${a.ai.ratings.count})` : "none yet"]]
          .map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))),
        a.ai.byKind.map((k) => h("p", { class: "small muted" }, `${k.kind}: ${k.succeeded}/${k.total} ok, avg ${fmtSecs(k.avgLatencySeconds)}`))),
      h("div", { class: "panel" }, h("h2", {}, "Ratings of AI outputs"),
        barChart(["5", "4", "3", "2", "1"].map((k) => ({ label: `${k} ★`, value: a.ai.ratings.distribution[k] || 0, color: "#f59e0b" })), { left: 40, label: "ratings" }),
        h("h3", { style: "margin-top:1rem" }, "Notifications delivered"),
        a.notifications.length ? h("table", {}, h("tbody", {}, a.notifications.map((n) => h("tr", {}, h("td", {}, n.kind), h("td", {}, n.channel), h("td", {}, n.delivered)))))
          : h("p", { class: "muted" }, "None yet."))));
}

// ---- templates & models: outcomes per generation, compared per (template, provider, model) -----
const fmtNum = (v, digits = 2) => (v === null || v === undefined ? "—" : String(Math.round(v * 10 ** digits) / 10 ** digits));
const fmtUsd = (v) => (v === null || v === undefined ? "—" : `$${v < 0.01 && v > 0 ? v.toFixed(4) : v.toFixed(2)}`);
const fmtStars = (v, n) => (v === null || v === undefined ? "—" : `${fmtNum(v, 2)} ★${n ? ` (${n})` : ""}`);
const who = (r) => [r.provider || "unknown", r.model].filter(Boolean).join(" · ");
// Higher is better for every compared figure except these (lower is better).
const LOWER_IS_BETTER = new Set(["fallbackShare", "regeneratedShare", "avgCostUsd"]);
const COMPARED = ["answerRate", "voteShare", "regeneratedShare", "taskCompletionRate", "avgProofRating", "avgRating", "fallbackShare", "avgCostUsd"];
function bestOf(rows) {
  // The best value of each figure among the rows of the same kind (only where two or more compare).
  const best = {};
  for (const kind of new Set(rows.map((r) => r.kind))) {
    const same = rows.filter((r) => r.kind === kind);
    for (const key of COMPARED) {
      const vals = same.map((r) => r[key]).filter((v) => v !== null && v !== undefined);
      if (vals.length < 2 || Math.min(...vals) === Math.max(...vals)) continue;
      best[`${kind}:${key}`] = LOWER_IS_BETTER.has(key) ? Math.min(...vals) : Math.max(...vals);
    }
  }
  return best;
}
function rateCell(v, best, title) {
  const p = v === null || v === undefined ? null : Math.max(0, Math.min(100, v * 100));
  return h("td", { class: best ? "best" : null, title }, p === null ? h("span", { class: "muted" }, "—")
    : h("div", { class: "progress" }, h("div", { class: "bar" }, h("i", { style: `width:${p}%` })), h("small", {}, fmtPct(v))));
}

async function modelsPage(params) {
  const kind = h("select", { id: "models-kind", "aria-label": "kind" }, h("option", { value: "" }, "Approaches and tasks"),
    h("option", { value: "approach" }, "Approaches"), h("option", { value: "tasks" }, "Tasks"));
  kind.value = params.get("kind") || "";
  const body = h("tbody");
  const more = h("div", { class: "more" });
  const detail = h("div", { id: "model-generations" });
  let cursor = null, rows = [];
  const draw = () => {
    const best = bestOf(rows);
    const mark = (r, key) => best[`${r.kind}:${key}`] !== undefined && r[key] === best[`${r.kind}:${key}`];
    body.replaceChildren(...rows.map((r) => h("tr", { class: "click", "data-group": `${r.kind}|${r.templateVersion || ""}|${r.provider || ""}|${r.model || ""}`,
      onclick: () => showGenerations(r).catch(failed) },
      h("td", {}, badge(r.kind, r.kind === "approach" ? "approaches" : "tasks"), " ", h("b", {}, r.templateVersion || "—")),
      h("td", {}, who(r)),
      h("td", {}, r.generations, r.failed ? h("div", { class: "muted small" }, `${r.failed} failed`) : null,
        h("div", { class: "muted small" }, `${r.sessions} session${r.sessions === 1 ? "" : "s"}`)),
      h("td", { class: mark(r, "fallbackShare") ? "best" : null }, fmtPct(r.fallbackShare)),
      rateCell(r.answerRate, mark(r, "answerRate"), "members who answered after the approach"),
      rateCell(r.voteShare, mark(r, "voteShare"), `votes for the AI's first candidate (${r.votesCast} votes)`),
      h("td", { class: mark(r, "regeneratedShare") ? "best" : null, title: "replaced by a regeneration" },
        r.regeneratedShare === null ? "—" : fmtPct(r.regeneratedShare), r.regenerations ? h("div", { class: "muted small" }, `${r.regenerations} regeneration${r.regenerations === 1 ? "" : "s"}`) : null),
      rateCell(r.taskCompletionRate, mark(r, "taskCompletionRate"), `${r.tasksCompleted}/${r.tasksAssigned} tasks done`),
      h("td", { class: mark(r, "avgProofRating") ? "best" : null }, fmtStars(r.avgProofRating, r.proofRatings)),
      h("td", { class: mark(r, "avgRating") ? "best" : null }, fmtStars(r.avgRating, r.ratingCount)),
      h("td", { class: mark(r, "avgCostUsd") ? "best" : null }, fmtUsd(r.totalCostUsd),
        h("div", { class: "muted small" }, `${fmtUsd(r.avgCostUsd)} each · ${fmtSecs(r.avgLatencySeconds)}`)))));
    if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 11, class: "muted" }, "No generations yet.")));
  };
  const load = async (reset) => {
    if (reset) { rows = []; cursor = null; detail.replaceChildren(); }
    const page = await api("GET", `/v1/admin/analytics/models${qs({ kind: kind.value, limit: 100, cursor })}`);
    rows = rows.concat(page.items);
    cursor = page.nextCursor;
    draw();
    more.replaceChildren(cursor ? h("button", { class: "secondary", onclick: () => load(false).catch(failed) }, "Load more") : "");
  };
  async function showGenerations(group) {
    const tbody = h("tbody");
    const more2 = h("div", { class: "more" });
    let cur = null;
    const filters = { kind: group.kind, provider: group.provider, model: group.model, templateVersion: group.templateVersion };
    const loadGens = async () => {
      const page = await api("GET", `/v1/admin/analytics/generations${qs({ ...filters, limit: 50, cursor: cur })}`);
      for (const g of page.items) {
        const outcome = g.kind === "approach"
          ? [`answered ${g.answered ?? "—"}/${g.members ?? "—"} (${fmtPct(g.answerRate)})`,
            g.voteShare !== null ? `first candidate ${fmtPct(g.voteShare)} of ${g.votesCast} votes` : null,
            g.regeneration ? "a regeneration" : null, g.regenerated ? "regenerated later" : null]
          : g.kind === "tasks" && g.tasksAssigned !== null
            ? [`${g.tasksCompleted}/${g.tasksAssigned} tasks done (${fmtPct(g.taskCompletionRate)})`,
              g.proofRatings ? `proof ${fmtStars(g.avgProofRating, g.proofRatings)}` : null] : [];
        tbody.append(h("tr", {},
          h("td", { class: "small" }, g.generationId ? h("a", { href: `#/generations/${g.generationId}` }, fmtDate(g.finishedAt || g.startedAt)) : fmtDate(g.finishedAt || g.startedAt)),
          h("td", {}, h("a", { href: `#/sessions/${g.sessionId}` }, g.sessionId.slice(0, 8))),
          h("td", {}, badge(g.status), g.fallback ? h("div", { class: "muted small" }, "builtin fallback") : null),
          h("td", { class: "small" }, outcome.filter(Boolean).join(" · ") || "—"),
          h("td", {}, fmtStars(g.avgRating, g.ratingCount)),
          h("td", { class: "hide-sm small" }, fmtUsd(g.costUsd), " · ", fmtSecs(g.latencySeconds))));
      }
      if (!tbody.children.length) tbody.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No generations.")));
      cur = page.nextCursor;
      more2.replaceChildren(cur ? h("button", { class: "secondary", onclick: () => loadGens().catch(failed) }, "Load more") : "");
    };
    detail.replaceChildren(h("div", { class: "panel table-wrap" },
      h("h2", {}, `Generations of ${group.templateVersion || "—"} · ${who(group)}`),
      h("table", { id: "model-generations-table" }, h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Session"), h("th", {}, "Status"),
        h("th", {}, "Outcome"), h("th", {}, "Rating"), h("th", { class: "hide-sm" }, "Cost · latency"))), tbody), more2));
    await loadGens();
    detail.scrollIntoView({ behavior: "smooth", block: "start" });
  }
  kind.addEventListener("change", () => load(true).catch(failed));
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Templates & models"),
      h("p", { class: "muted" }, "What followed each AI generation, per prompt template, provider and model. Best of each kind in green.")),
      h("div", { class: "row", style: "max-width:420px" }, kind, h("button", { class: "secondary", onclick: () => load(true).catch(failed) }, "Refresh"))),
    h("div", { class: "panel table-wrap" }, h("table", { id: "models-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Template"), h("th", {}, "Provider · model"), h("th", {}, "Generations"),
        h("th", { title: "the builtin planner answered" }, "Fallback"), h("th", {}, "Answer rate"), h("th", {}, "Vote share"),
        h("th", {}, "Regenerated"), h("th", {}, "Task completion"), h("th", {}, "Proof rating"), h("th", {}, "Rating"), h("th", {}, "Cost"))), body), more),
    h("p", { class: "muted small" }, "Answer rate: members who answered after an approach and before the next. Vote share: votes for the AI's first candidate. ",
      "Regenerated: approaches a later one replaced. Task completion and proof rating: tasks of the generation and the ratings on their proof posts. ",
      "Rates are pooled over the group's generations. Failed generations do not say which model they used."),
    detail);
  await load(true);
}

// ---- use cases ----------------------------------------------------------------------------
async function useCasesPage() {
  const q = h("input", { type: "search", placeholder: "Search use cases", id: "uc-search" });
  const list = h("tbody");
  const more = h("div", { class: "more" });
  let cursor = null;
  const load = async (reset) => {
    if (reset) { list.replaceChildren(); cursor = null; }
    const page = await api("GET", `/v1/admin/use-cases${qs({ q: q.value, limit: 50, cursor })}`);
    for (const u of page.items) {
      list.append(h("tr", { class: "click", onclick: () => { location.hash = `#/use-cases/${u.id}`; } },
        h("td", {}, h("a", { href: `#/use-cases/${u.id}` }, u.title), h("div", { class: "muted small" }, u.prompt.slice(0, 110))),
        h("td", { class: "hide-sm" }, u.category || "—"),
        h("td", { class: "hide-sm tags" }, u.tags.map((t) => h("span", {}, t))),
        h("td", { class: "hide-sm small", "data-roles": (u.roles || []).length },
          (u.roles || []).length ? `${u.roles.length} role${u.roles.length === 1 ? "" : "s"}` : h("span", { class: "muted" }, "—")),
        h("td", { class: "hide-sm muted small" }, fmtDate(u.updatedAt))));
    }
    if (!list.children.length) list.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No use cases match.")));
    cursor = page.nextCursor;
    more.replaceChildren(cursor ? h("button", { class: "secondary", onclick: () => load(false).catch(failed) }, "Load more") : "");
  };
  let t; q.addEventListener("input", () => { clearTimeout(t); t = setTimeout(() => load(true).catch(failed), 250); });
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Use cases"), h("p", { class: "muted" }, "What the AI matches sessions against.")),
      h("div", { class: "row", style: "max-width:460px" }, q, h("button", { id: "new-use-case", onclick: () => { location.hash = "#/use-cases/new"; } }, "New use case"))),
    h("div", { class: "panel table-wrap" }, h("table", { id: "use-cases-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Title"), h("th", { class: "hide-sm" }, "Category"), h("th", { class: "hide-sm" }, "Tags"), h("th", { class: "hide-sm" }, "Playbook"), h("th", { class: "hide-sm" }, "Updated"))), list), more));
  await load(true);
}

// Tone of generated texts; any other stored value stays selectable so an edit does not lose it.
const TEMPLATE_STYLES = ["friendly", "formal", "playful", "concise"];
// A starting point for the playbook editor (the shape of the shared RoleSpec).
const EXAMPLE_ROLE = {
  key: "ticket_buyer", name: "Ticket buyer", phase: "prepare",
  fitsWhen: "Someone has to book and pay for the tickets before the group goes.",
  task: { title: "Buy the tickets for {activity}", instructions: "Book seats for {people} together, pay online and share the booking in the group chat." },
  requires: [{ question: "budget", atLeast: 30 }], effort: 2,
  proof: { text: "Post a screenshot of the booking", types: ["image"] },
};
// Roles as JSON for the textarea: without the nulls the API returns for unused fields.
const rolesJson = (roles) => (roles && roles.length
  ? JSON.stringify(roles, (k, v) => (v === null ? undefined : v), 2) : "");

async function useCaseEditor(id) {
  const uc = id === "new" ? { title: "", prompt: "", category: "", tags: [], templateStyle: "", roles: [] }
    : await api("GET", `/v1/admin/use-cases/${encodeURIComponent(id)}`);
  const style = uc.templateStyle || "";
  const styles = TEMPLATE_STYLES.includes(style) || !style ? TEMPLATE_STYLES : [...TEMPLATE_STYLES, style];
  const f = {
    title: h("input", { name: "title", value: uc.title, required: true, maxlength: 200 }),
    prompt: h("textarea", { name: "prompt", required: true, maxlength: 8000 }, uc.prompt),
    category: h("input", { name: "category", value: uc.category || "", maxlength: 80 }),
    tags: h("input", { name: "tags", value: uc.tags.join(", "), placeholder: "weekend, outdoor" }),
    templateStyle: h("select", { name: "templateStyle" }, h("option", { value: "" }, "— default —"),
      styles.map((v) => h("option", { value: v, selected: v === style }, v))),
    roles: h("textarea", { name: "roles", class: "code", spellcheck: "false", rows: 12,
      placeholder: '[{"key": "ticket_buyer", "name": "Ticket buyer", ...}]' }, rolesJson(uc.roles)),
  };
  const err = h("div", { class: "error", id: "use-case-error", role: "alert", hidden: true });
  const fail = (message) => { err.textContent = message; err.hidden = false; err.scrollIntoView({ block: "nearest" }); };
  const example = () => {
    let roles = [];
    try { roles = f.roles.value.trim() ? JSON.parse(f.roles.value) : []; } catch (e) { return fail("Playbook roles: fix the JSON before adding an example."); }
    if (!Array.isArray(roles)) return fail("Playbook roles: a JSON list [ … ] is expected.");
    f.roles.value = rolesJson([...roles, EXAMPLE_ROLE]);
  };
  const save = async (e) => {
    e.preventDefault();
    err.hidden = true;
    let roles;
    try { roles = f.roles.value.trim() ? JSON.parse(f.roles.value) : []; } catch (x) { return fail(`Playbook roles: not valid JSON (${x.message}).`); }
    if (!Array.isArray(roles)) return fail("Playbook roles: a JSON list [ … ] of roles is expected.");
    const body = { title: f.title.value, prompt: f.prompt.value, category: f.category.value.trim() || null,
      tags: f.tags.value.split(",").map((x) => x.trim()).filter(Boolean), templateStyle: f.templateStyle.value || null, roles };
    try {
      const saved = id === "new" ? await api("POST", "/v1/admin/use-cases", body) : await api("PATCH", `/v1/admin/use-cases/${id}`, body);
      toast(id === "new" ? "Use case created" : "Use case saved");
      location.hash = `#/use-cases/${saved.id}`;
      if (id !== "new") useCaseEditor(saved.id).catch(failed);
    } catch (x) {
      if (x.status === 401 || x.status === 403) return failed(x);
      fail(x.status === 422 ? `Not saved: ${x.message}` : x.message);
    }
  };
  const del = async () => {
    if (!confirm(`Delete “${uc.title}”? Sessions keep their match; the AI stops offering it.`)) return;
    try { await api("DELETE", `/v1/admin/use-cases/${id}`); toast("Use case deleted"); location.hash = "#/use-cases"; }
    catch (x) { failed(x); }
  };
  render(
    h("p", {}, h("a", { href: "#/use-cases" }, "← Use cases")),
    h("h1", {}, id === "new" ? "New use case" : uc.title),
    id === "new" ? null : h("p", { class: "muted small" }, `Created ${fmtDate(uc.createdAt)} · updated ${fmtDate(uc.updatedAt)}`),
    h("form", { class: "panel stack", id: "use-case-form", onsubmit: save },
      h("label", {}, "Title", f.title),
      h("label", {}, "Prompt", f.prompt),
      h("div", { class: "row" }, h("label", {}, "Category", f.category), h("label", {}, "Tags (comma separated)", f.tags)),
      h("label", {}, "Template style", f.templateStyle),
      h("div", { class: "stack-sm" },
        h("label", {}, `Playbook roles (${(uc.roles || []).length})`, f.roles),
        h("p", { class: "muted small hint" }, "Roles the planner puts first when a session matches this use case: a JSON list, at most 30, keys unique. Each role: ",
          h("code", {}, "key"), ", ", h("code", {}, "name"), ", ", h("code", {}, "fitsWhen"), ", ", h("code", {}, "phase"), " (prepare, do, share), ",
          h("code", {}, "task {title, instructions}"), ", ", h("code", {}, "requires [{question, equals | atLeast}]"), " (", h("code", {}, "budget"),
          " takes atLeast, the other questions equals true/false), ", h("code", {}, "effort"), " 1–5, ", h("code", {}, "proof {text, types}"),
          " (text, image, rating), optional ", h("code", {}, "share"), " and ", h("code", {}, "generic"), ". Texts may use the slots ",
          h("code", {}, "{activity}"), " ", h("code", {}, "{place}"), " ", h("code", {}, "{object}"), " ", h("code", {}, "{people}"), ". ",
          h("button", { type: "button", class: "link-dark", id: "add-example-role", onclick: example }, "Add an example role"))),
      err, // beside the button, so a refusal is seen where the admin clicked
      h("div", { class: "actions" }, h("button", { type: "submit" }, id === "new" ? "Create" : "Save"),
        id === "new" ? null : h("button", { type: "button", class: "danger", onclick: del }, "Delete"),
        id === "new" ? null : h("a", { href: `#/audit?entityId=${id}`, class: "small", style: "align-self:center" }, "History"))));
}

// ---- session types ------------------------------------------------------------------------
const CHOICES = ["vote", "owner", "auto"];
const VISIBILITIES = ["members", "public", "private"];
function fmtDuration(secs) {
  if (!secs) return "—";
  const d = Math.floor(secs / 86400), hr = Math.floor((secs % 86400) / 3600), min = Math.round((secs % 3600) / 60);
  return [d ? `${d} d` : "", hr ? `${hr} h` : "", min ? `${min} min` : ""].filter(Boolean).join(" ");
}
const flowBadges = (flow) => flow.map((p, i) => [i ? h("span", { class: "muted" }, " → ") : null, badge(p)]);

async function sessionTypesPage() {
  const list = h("tbody");
  const more = h("div", { class: "more" });
  let cursor = null;
  const load = async (reset) => {
    if (reset) { list.replaceChildren(); cursor = null; }
    const page = await api("GET", `/v1/admin/session-types${qs({ limit: 50, cursor })}`);
    for (const t of page.items) {
      const durations = Object.entries(t.phaseDurations || {});
      list.append(h("tr", { class: "click", "data-type": t.key, onclick: () => { location.hash = `#/session-types/${t.key}`; } },
        h("td", {}, h("a", { href: `#/session-types/${t.key}` }, t.name), " ", t.builtin ? badge("built-in", "ok") : null,
          h("div", { class: "muted small" }, t.key)),
        h("td", {}, flowBadges(t.phaseFlow)),
        h("td", { class: "hide-sm small" }, durations.length ? durations.map(([p, s2]) => `${p} ${fmtDuration(s2)}`).join(" · ") : h("span", { class: "muted" }, "—")),
        h("td", {}, t.approachChoice),
        h("td", { class: "hide-sm" }, t.visibility),
        h("td", { class: "hide-sm muted small" }, fmtDate(t.updatedAt))));
    }
    if (!list.children.length) list.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No session types.")));
    cursor = page.nextCursor;
    more.replaceChildren(cursor ? h("button", { class: "secondary", onclick: () => load(false).catch(failed) }, "Load more") : "");
  };
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Session types"),
      h("p", { class: "muted" }, "Defaults a new session takes when it names a type: phase flow, phase durations, how the approach is chosen and who sees it.")),
      h("button", { id: "new-session-type", onclick: () => { location.hash = "#/session-types/new"; } }, "New session type")),
    h("div", { class: "panel table-wrap" }, h("table", { id: "session-types-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Type"), h("th", {}, "Phase flow"), h("th", { class: "hide-sm" }, "Durations"),
        h("th", {}, "Approach choice"), h("th", { class: "hide-sm" }, "Visibility"), h("th", { class: "hide-sm" }, "Updated"))), list), more),
    h("p", { class: "muted small" }, "Changing a type changes only sessions created afterwards; running sessions keep what they started with. ",
      "Members name a type with ", h("code", {}, "sessionType"), " when they create a session; fields they set themselves win."));
  await load(true);
}

async function sessionTypeEditor(key) {
  const isNew = key === "new";
  const st = isNew ? { key: "", name: "", phaseFlow: [...PHASES], phaseDurations: {}, approachChoice: "vote", visibility: "members", builtin: false }
    : await api("GET", `/v1/admin/session-types/${encodeURIComponent(key)}`);
  const f = {
    key: h("input", { name: "key", value: st.key, required: true, maxlength: 60, placeholder: "team-poll", disabled: !isNew }),
    name: h("input", { name: "name", value: st.name, required: true, maxlength: 120 }),
    approachChoice: h("select", { name: "approachChoice" }, CHOICES.map((c) => h("option", { value: c, selected: c === st.approachChoice }, c))),
    visibility: h("select", { name: "visibility" }, VISIBILITIES.map((v) => h("option", { value: v, selected: v === st.visibility }, v))),
  };
  // One row per phase: in the flow or not, and its duration in hours (`completed` always ends a flow).
  const phases = PHASES.map((p) => {
    const last = p === "completed";
    const on = h("input", { type: "checkbox", name: `phase-${p}`, checked: last || st.phaseFlow.includes(p), disabled: last });
    const secs = (st.phaseDurations || {})[p];
    const hours = last ? null : h("input", { type: "number", name: `hours-${p}`, min: 0, step: "any", placeholder: "no deadline",
      value: secs ? String(Math.round((secs / 3600) * 1000) / 1000) : "", "aria-label": `${p} duration in hours` });
    return { p, on, hours };
  });
  const err = h("div", { class: "error", id: "session-type-error", role: "alert", hidden: true });
  const fail = (message) => { err.textContent = message; err.hidden = false; err.scrollIntoView({ block: "nearest" }); };
  const save = async (e) => {
    e.preventDefault();
    err.hidden = true;
    const phaseFlow = phases.filter((x) => x.on.checked).map((x) => x.p);
    const phaseDurations = {};
    for (const x of phases) {
      if (!x.hours || !x.on.checked || x.hours.value.trim() === "") continue;
      const hours = Number(x.hours.value);
      if (!(hours > 0)) return fail(`${x.p}: the duration must be a positive number of hours.`);
      phaseDurations[x.p] = Math.round(hours * 3600);
    }
    const body = { name: f.name.value, phaseFlow, phaseDurations, approachChoice: f.approachChoice.value, visibility: f.visibility.value };
    try {
      const saved = isNew ? await api("POST", "/v1/admin/session-types", { key: f.key.value.trim(), ...body })
        : await api("PUT", `/v1/admin/session-types/${encodeURIComponent(key)}`, body);
      toast(isNew ? "Session type created" : "Session type saved");
      location.hash = `#/session-types/${saved.key}`;
      if (!isNew) sessionTypeEditor(saved.key).catch(failed);
    } catch (x) {
      if (x.status === 401 || x.status === 403) return failed(x);
      fail(x.status === 422 || x.status === 409 ? `Not saved: ${x.message}` : x.message);
    }
  };
  const del = async () => {
    if (!confirm(`Delete “${st.name}”? Running sessions keep their settings; new sessions can no longer use it.`)) return;
    try { await api("DELETE", `/v1/admin/session-types/${encodeURIComponent(key)}`); toast("Session type deleted"); location.hash = "#/session-types"; }
    catch (x) { if (x.status === 409) fail(x.message); else failed(x); }
  };
  render(
    h("p", {}, h("a", { href: "#/session-types" }, "← Session types")),
    h("h1", {}, isNew ? "New session type" : st.name, " ", st.builtin ? badge("built-in", "ok") : null),
    isNew ? null : h("p", { class: "muted small" }, `${st.key} · created ${fmtDate(st.createdAt)} · updated ${fmtDate(st.updatedAt)}`),
    h("form", { class: "panel stack", id: "session-type-form", onsubmit: save },
      h("div", { class: "row" }, h("label", {}, "Key", f.key), h("label", {}, "Name", f.name)),
      h("div", { class: "stack-sm" }, h("label", {}, "Phase flow and durations"),
        h("table", { id: "session-type-phases" }, h("thead", {}, h("tr", {}, h("th", {}, "In flow"), h("th", {}, "Phase"), h("th", {}, "Duration (hours)"))),
          h("tbody", {}, phases.map((x) => h("tr", {}, h("td", {}, x.on), h("td", {}, badge(x.p)),
            h("td", {}, x.hours || h("span", { class: "muted small" }, "ends every flow")))))),
        h("p", { class: "muted small hint" }, "Phases keep this order; a flow with tasks needs approaches and submission. ",
          "Deadlines are planned when a session is created: a phase ends once the durations up to and including it have passed.")),
      h("div", { class: "row" }, h("label", {}, "Approach choice", f.approachChoice), h("label", {}, "Visibility", f.visibility)),
      err,
      h("div", { class: "actions" }, h("button", { type: "submit" }, isNew ? "Create" : "Save"),
        isNew || st.builtin ? null : h("button", { type: "button", class: "danger", onclick: del }, "Delete"),
        isNew ? null : h("a", { href: `#/audit?entityId=${encodeURIComponent(st.key)}`, class: "small", style: "align-self:center" }, "History"))));
}

// ---- AI spend (the AI service's figures, through the gateway) -------------------------------
function capCell(row) {
  const p = row.shareOfCap === null ? 100 : Math.max(0, Math.min(100, row.shareOfCap * 100));
  return h("td", {}, h("div", { class: `progress${row.atCap ? " over" : ""}`, title: `${fmtUsd(row.costUsd)} of ${fmtUsd(row.capUsd)}` },
    h("div", { class: "bar" }, h("i", { style: `width:${p}%` })), h("small", {}, row.shareOfCap === null ? "no cap" : fmtPct(row.shareOfCap))),
  row.atCap ? badge("at cap", "at-cap") : null);
}

async function spendPage() {
  let d;
  try { d = await api("GET", "/v1/admin/generations/spend?days=14&sessions=50"); } catch (e) {
    if (e.status === 401 || e.status === 403) throw e;
    render(h("h1", {}, "AI spend"), h("div", { class: "notice" }, `The AI service's figures are not reachable here (${e.message}).`));
    return;
  }
  const today = d.days[d.days.length - 1];
  const atCap = d.sessions.filter((r) => r.atCap).length;
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "AI spend"),
      h("p", { class: "muted" }, "Estimated spend of AI generations per day (UTC) and per session, beside the budget caps. At a cap, generations fall back to the builtin planner or stop.")),
      h("button", { class: "secondary", onclick: () => spendPage().catch(failed) }, "Refresh")),
    h("div", { class: "kpis", id: "spend-kpis" },
      kpi(fmtUsd(today.costUsd), "spent today"), kpi(fmtUsd(d.dayBudgetUsd), "day cap"), kpi(fmtPct(today.shareOfCap), "of today's cap"),
      kpi(fmtUsd(d.sessionBudgetUsd), "session cap"), kpi(atCap, "sessions at cap")),
    h("div", { class: "grid-2" },
      h("div", { class: "panel table-wrap" }, h("h2", {}, "Per day"), h("table", { id: "spend-days" },
        h("thead", {}, h("tr", {}, h("th", {}, "Day"), h("th", {}, "Generations"), h("th", {}, "Spend"), h("th", {}, "Of the day cap"))),
        h("tbody", {}, [...d.days].reverse().map((r) => h("tr", { class: r.atCap ? "at-cap" : null, "data-day": r.day },
          h("td", {}, r.day), h("td", {}, r.generations), h("td", {}, fmtUsd(r.costUsd)), capCell(r)))))),
      h("div", { class: "panel table-wrap" }, h("h2", {}, "Per session"), h("table", { id: "spend-sessions" },
        h("thead", {}, h("tr", {}, h("th", {}, "Session"), h("th", {}, "Generations"), h("th", {}, "Spend"), h("th", {}, "Of the session cap"),
          h("th", { class: "hide-sm" }, "Last generation"))),
        h("tbody", {}, d.sessions.length ? d.sessions.map((r) => h("tr", { class: r.atCap ? "at-cap" : null, "data-session": r.sessionId },
          h("td", {}, h("a", { href: `#/sessions/${r.sessionId}` }, r.sessionId.slice(0, 8))), h("td", {}, r.generations),
          h("td", {}, fmtUsd(r.costUsd)), capCell(r), h("td", { class: "hide-sm small muted" }, fmtDate(r.lastAt))))
          : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No generations in these days.")))))),
    h("p", { class: "muted small" }, "A session's spend counts all its generations (its cap applies to the whole session); ",
      "sessions with a generation in the last 14 days are listed, the biggest spend first. Caps: RALLY_BUDGET_PER_DAY_USD and RALLY_BUDGET_PER_SESSION_USD of the AI service."));
}

// ---- audit --------------------------------------------------------------------------------
async function auditPage(params) {
  const f = {
    actor: h("input", { name: "actor", placeholder: "actor id", value: params.get("actor") || "" }),
    entity: h("input", { name: "entity", placeholder: "entity (session, use_case…)", value: params.get("entity") || "" }),
    entityId: h("input", { name: "entityId", placeholder: "entity id", value: params.get("entityId") || "" }),
    action: h("input", { name: "action", placeholder: "action", value: params.get("action") || "" }),
    from: h("input", { name: "from", type: "datetime-local" }),
    to: h("input", { name: "to", type: "datetime-local" }),
  };
  const body = h("tbody");
  const more = h("div", { class: "more" });
  let cursor = null;
  const iso = (v) => (v ? new Date(v).toISOString() : "");
  const load = async (reset) => {
    if (reset) { body.replaceChildren(); cursor = null; }
    const page = await api("GET", `/v1/admin/audit${qs({ actor: f.actor.value.trim(), entity: f.entity.value.trim(), entityId: f.entityId.value.trim(),
      action: f.action.value.trim(), from: iso(f.from.value), to: iso(f.to.value), limit: 50, cursor })}`);
    for (const r of page.items) {
      body.append(h("tr", {},
        h("td", { class: "small" }, fmtDate(r.at)),
        h("td", {}, badge(r.action, "ok")),
        h("td", {}, `${r.entity} `, h("span", { class: "muted small" }, r.entityId.slice(0, 8))),
        h("td", { class: "hide-sm small" }, r.service),
        h("td", { class: "hide-sm small muted" }, (r.actorId || "system").slice(0, 12)),
        h("td", {}, h("details", {}, h("summary", {}, "changes"), h("pre", {}, JSON.stringify({ before: r.before, after: r.after, requestId: r.requestId }, null, 2))))));
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No records match.")));
    cursor = page.nextCursor;
    more.replaceChildren(cursor ? h("button", { class: "secondary", onclick: () => load(false).catch(failed) }, "Load more") : "");
  };
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Audit trail"), h("p", { class: "muted" }, "Every change in every service. Append-only."))),
    h("form", { class: "panel", id: "audit-filters", onsubmit: (e) => { e.preventDefault(); load(true).catch(failed); } },
      h("div", { class: "row" }, f.actor, f.entity, f.entityId, f.action),
      h("div", { class: "row", style: "margin-top:.6rem" }, h("label", {}, "From", f.from), h("label", {}, "To", f.to), h("button", { type: "submit" }, "Filter"))),
    h("div", { class: "panel table-wrap" }, h("table", { id: "audit-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Action"), h("th", {}, "Entity"), h("th", { class: "hide-sm" }, "Service"),
        h("th", { class: "hide-sm" }, "Actor"), h("th", {}, ""))), body), more));
  await load(true);
}

// ---- generations (the AI service's log, through the gateway) ------------------------------
const pick = (o, ...keys) => { for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k]; return null; };
function latencyOf(g) {
  const ms = pick(g, "latencyMs", "latency_ms");
  if (ms !== null) return fmtSecs(ms / 1000);
  return fmtSecs(pick(g, "latencySeconds", "latency"));
}
function ratingOf(g) {
  const r = pick(g, "ratingAverage", "rating", "averageRating");
  const v = r && typeof r === "object" ? pick(r, "score", "average") : r;
  if (v === null) return null;
  const n = pick(g, "ratingCount");
  return `${Math.round(v * 10) / 10} ★${n ? ` (${n})` : ""}`;
}
const present = (v) => v !== null && v !== undefined && v !== "" && v !== "null";
function text(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "string") return JSON.stringify(v, null, 2);
  try { const parsed = JSON.parse(v); if (parsed && typeof parsed === "object") return JSON.stringify(parsed, null, 2); } catch (e) { /* plain text */ }
  return v;
}

async function generationsPage() {
  const body = h("tbody");
  const more = h("div", { class: "more" });
  let cursor = null;
  const load = async (reset) => {
    if (reset) { body.replaceChildren(); cursor = null; }
    const page = await api("GET", `/v1/admin/generations${qs({ limit: 50, cursor })}`);
    for (const g of page.items) {
      body.append(h("tr", { class: "click", onclick: () => { location.hash = `#/generations/${g.id}`; } },
        h("td", { class: "small" }, h("a", { href: `#/generations/${g.id}` }, fmtDate(pick(g, "createdAt")))),
        h("td", {}, pick(g, "kind") || "—"), h("td", {}, badge(pick(g, "status"))),
        h("td", { class: "hide-sm small" }, [pick(g, "provider"), pick(g, "model")].filter(Boolean).join(" · ")),
        h("td", {}, latencyOf(g)), h("td", { class: "hide-sm" }, ratingOf(g) ?? "—")));
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No generations yet.")));
    cursor = page.nextCursor;
    more.replaceChildren(cursor ? h("button", { class: "secondary", onclick: () => load(false).catch(failed) }, "Load more") : "");
  };
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "AI generations"), h("p", { class: "muted" }, "Every prompt and response, with latency and ratings."))),
    h("div", { class: "panel table-wrap" }, h("table", { id: "generations-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Kind"), h("th", {}, "Status"), h("th", { class: "hide-sm" }, "Model"),
        h("th", {}, "Latency"), h("th", { class: "hide-sm" }, "Rating"))), body), more));
  try { await load(true); } catch (e) {
    if (e.status === 401 || e.status === 403) throw e;
    body.replaceChildren(h("tr", {}, h("td", { colspan: 6 }, h("div", { class: "notice" }, `The AI service's log is not reachable here (${e.message}).`))));
  }
}

async function generationPage(id) {
  const g = await api("GET", `/v1/admin/generations/${encodeURIComponent(id)}`);
  let score = 0;
  const stars = h("div", { class: "stars", role: "radiogroup", "aria-label": "score" });
  const draw = () => stars.replaceChildren(...[1, 2, 3, 4, 5].map((n) => h("button", { type: "button", class: n <= score ? "on" : "",
    "aria-label": `${n} star${n > 1 ? "s" : ""}`, onclick: () => { score = n; draw(); } }, "★")));
  draw();
  const comment = h("input", { name: "comment", placeholder: "optional comment", maxlength: 2000 });
  const rate = async (e) => {
    e.preventDefault();
    if (!score) { toast("Pick a score first"); return; }
    try { await api("POST", `/v1/generations/${encodeURIComponent(id)}/rating`, { score, comment: comment.value.trim() || undefined }); toast("Thanks — rating saved"); generationPage(id).catch(failed); }
    catch (x) { if (x.status === 401 || x.status === 403) failed(x); else toast(x.message); }
  };
  const tokens = [pick(g, "promptTokens", "tokensIn"), pick(g, "completionTokens", "tokensOut")].filter((x) => x !== null);
  const ratings = Array.isArray(g.ratings) ? g.ratings : [];
  render(
    h("p", {}, h("a", { href: "#/generations" }, "← Generations")),
    h("div", { class: "head" }, h("div", {}, h("h1", {}, pick(g, "kind") || "Generation", " ", badge(pick(g, "status"))),
      h("p", { class: "muted" }, `${[pick(g, "provider"), pick(g, "model")].filter(Boolean).join(" · ")} · ${fmtDate(pick(g, "createdAt"))}`))),
    h("div", { class: "kpis" }, kpi(latencyOf(g), "latency"), kpi(tokens.length ? tokens.join(" / ") : pick(g, "tokens") ?? "—", "tokens"),
      kpi(ratingOf(g) ?? "—", "rating"), kpi(pick(g, "sessionId") ? String(pick(g, "sessionId")).slice(0, 8) : "—", "session")),
    present(pick(g, "error")) ? h("div", { class: "error" }, text(pick(g, "error"))) : null,
    h("div", { class: "grid-2" },
      h("div", { class: "panel" }, h("h2", {}, "Prompt"), h("pre", { id: "gen-prompt" }, text(pick(g, "prompt", "messages")))),
      h("div", { class: "panel" }, h("h2", {}, "Response"), h("pre", { id: "gen-response" }, text(pick(g, "rawResponse", "response", "output"))))),
    h("form", { class: "panel stack", id: "rating-form", onsubmit: rate }, h("h2", {}, "Rate this output"),
      ratings.length ? h("ul", { class: "small muted", id: "ratings" }, ratings.map((r) => h("li", {}, `${"★".repeat(r.score)} ${r.comment || ""}`))) : null,
      stars, comment,
      h("div", {}, h("button", { type: "submit" }, "Save rating"))));
}

// ---- moderation ---------------------------------------------------------------------------
async function reportsPage() {
  const status = h("select", {}, ["open", "hidden", "restored", "all"].map((v) => h("option", { value: v }, v)));
  const reason = h("input", { placeholder: "reason (kept in the audit trail)" });
  const body = h("tbody");
  let items = [];
  const load = async () => {
    const page = await api("GET", `/v1/admin/reports${qs({ status: status.value, limit: 200 })}`);
    items = page.items;
    body.replaceChildren(...items.map((r, i) => h("tr", {},
      h("td", {}, h("input", { type: "checkbox", "data-i": i, "aria-label": "select" })),
      h("td", {}, r.entity, " ", h("span", { class: "muted small" }, r.entityId.slice(0, 8))),
      h("td", {}, r.reason), h("td", {}, badge(r.status)), h("td", { class: "hide-sm small" }, fmtDate(r.createdAt)))));
    if (!items.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "Nothing to review.")));
  };
  const act = async (action) => {
    const chosen = [...body.querySelectorAll("input:checked")].map((c) => items[Number(c.dataset.i)]);
    if (!chosen.length) { toast("Select some items first"); return; }
    try {
      await api("POST", "/v1/admin/moderation", { action, reason: reason.value.trim(), items: chosen.map((r) => ({ entity: r.entity, entityId: r.entityId })) });
      toast(`${chosen.length} item(s) ${action === "hide" ? "hidden" : "restored"}`); await load();
    } catch (x) { failed(x); }
  };
  status.addEventListener("change", () => load().catch(failed));
  render(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Moderation"), h("p", { class: "muted" }, "Reported ideas, comments and posts. Hidden content disappears for members."))),
    h("div", { class: "panel row" }, status, reason, h("button", { onclick: () => act("hide") }, "Hide selected"),
      h("button", { class: "secondary", onclick: () => act("restore") }, "Restore selected")),
    h("div", { class: "panel table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "Content"),
      h("th", {}, "Reason"), h("th", {}, "Status"), h("th", { class: "hide-sm" }, "Reported"))), body)));
  await load();
}

// ---- router -------------------------------------------------------------------------------
const ROUTES = [
  [/^#\/sessions\/(.+)$/, (m) => sessionPage(decodeURIComponent(m[1])), "sessions"],
  [/^#\/sessions$/, () => sessionsPage(), "sessions"],
  [/^#\/analytics$/, () => analyticsPage(), "analytics"],
  [/^#\/models$/, (m, params) => modelsPage(params), "models"],
  [/^#\/use-cases\/(.+)$/, (m) => useCaseEditor(decodeURIComponent(m[1])), "use-cases"],
  [/^#\/use-cases$/, () => useCasesPage(), "use-cases"],
  [/^#\/session-types\/(.+)$/, (m) => sessionTypeEditor(decodeURIComponent(m[1])), "session-types"],
  [/^#\/session-types$/, () => sessionTypesPage(), "session-types"],
  [/^#\/spend$/, () => spendPage(), "spend"],
  [/^#\/generations\/(.+)$/, (m) => generationPage(decodeURIComponent(m[1])), "generations"],
  [/^#\/generations$/, () => generationsPage(), "generations"],
  [/^#\/reports$/, () => reportsPage(), "reports"],
  [/^#\/audit$/, (m, params) => auditPage(params), "audit"],
];

async function route() {
  const [hash, query] = (location.hash || "#/sessions").split("?");
  if (hash === "#/login" || !token()) { loginPage(); return; }
  showChrome(true);
  const found = ROUTES.find(([re]) => re.test(hash));
  if (!found) { location.hash = "#/sessions"; return; }
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === found[2]);
  $main.setAttribute("aria-busy", "true");
  try { await found[1](hash.match(found[0]), new URLSearchParams(query || "")); }
  catch (e) { failed(e); }
  finally { $main.removeAttribute("aria-busy"); }
}
window.addEventListener("hashchange", route);
route();
