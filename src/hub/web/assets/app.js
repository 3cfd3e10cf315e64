// The hub page: reads the contributor API's JSON (src/hub/api-types.ts) and streams the playground
// from the gateway's /v1/chat/completions. Every value from the API is written as text, never as
// HTML: model cards and ids come from contributors.

const api = document.body.dataset.api || "/api";
const params = new URLSearchParams(location.search);
const refreshMs = Math.max(200, Number(params.get("refresh")) || 5000);
const state = { domain: null, composition: null, gateway: "/v1", models: [], fits: "" };

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  return node;
}

// A hub whose reads are not public wants a reader's key: asked for on the first 401/403, kept in
// this tab's sessionStorage, sent to the hub's API and to a gateway on the hub's own origin (the
// hub serving its compositions), never to a gateway elsewhere, which has keys of its own.
const KEY_STORAGE = "cogen-hub-key";

function keyHeaders(url) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const sameOrigin = new URL(url, location.href).origin === new URL(api, location.href).origin;
  return key && sameOrigin ? { authorization: `Bearer ${key}` } : {};
}

async function getJson(path) {
  const sentKey = sessionStorage.getItem(KEY_STORAGE);
  const headers = { accept: "application/json", ...keyHeaders(api + path) };
  const response = await fetch(api + path, { headers });
  const body = await response.json().catch(() => null);
  // A refusal of a key the reader has since replaced is stale: it must not reopen the form.
  const refused = response.status === 401 || response.status === 403;
  if (refused && sentKey === sessionStorage.getItem(KEY_STORAGE)) askForKey(body?.error?.message ?? `HTTP ${response.status}`);
  if (!response.ok) throw new Error(body?.error?.message ?? `${path}: HTTP ${response.status}`);
  return body;
}

function askForKey(reason) {
  const form = document.getElementById("key-form");
  if (!form.hidden) return;
  form.hidden = false;
  document.getElementById("key-note").textContent =
    `The hub answered: ${reason}. A reader's key is kept in this tab only and sent to this hub only.`;
}

function useKey(event) {
  event.preventDefault();
  const key = document.getElementById("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  document.getElementById("key-form").hidden = true;
  void tick(true);
}

const num = (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toFixed(digits));
const interval = (ci) => `[${num(ci[0])}, ${num(ci[1])}]`;
const when = (t) => (t ? new Date(t).toISOString().replace("T", " ").slice(0, 19) : "—");

function showError(where, error) {
  where.replaceChildren(el("p", { class: "flag" }, String(error.message ?? error)));
}

function plot(div, traces, layout) {
  if (!window.Plotly) return;
  window.Plotly.react(div, traces, { margin: { l: 160, r: 20, t: 10, b: 40 }, ...layout }, { displayModeBar: false, responsive: true });
}

// --- status and composition -------------------------------------------------------------------

async function refreshStatus() {
  const status = await getJson("/status");
  state.gateway = status.gateway ? status.gateway.replace(/\/$/, "") : "/v1";
  document.getElementById("status").textContent =
    `${status.experts} experts from ${status.contributors} contributors · store ${status.store} · queue ${status.queue.waiting} waiting, ${status.queue.running} running · ` +
    `composition ${status.currentComposition ?? "none"}`;
  return status;
}

async function refreshComposition() {
  const history = await getJson("/compositions");
  const body = document.querySelector("#history tbody");
  body.replaceChildren(...history.versions.map((v) =>
    el("tr", { "data-version": v.version }, el("td", {}, v.version), el("td", {}, v.policy.name), el("td", {}, v.experts.join(", ")), el("td", {}, v.state), el("td", {}, when(v.publishedAt)), el("td", {}, v.publishedBy ?? "—"))));
  const version = document.getElementById("composition-version");
  const detail = document.getElementById("composition-detail");
  if (history.current === null) {
    version.textContent = "(none yet)";
    detail.replaceChildren(el("p", { class: "note" }, "Nothing is published yet."));
    state.composition = null;
    return false;
  }
  const changed = state.composition?.version !== history.current;
  if (!changed) return false;
  const c = await getJson("/compositions/current");
  state.composition = c;
  version.textContent = `v${c.version}`;
  version.dataset.version = String(c.version);
  const params = Object.entries(c.policy.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
  detail.replaceChildren(
    el("dl", {},
      el("dt", {}, "policy"), el("dd", {}, `${c.policy.name}${params ? ` (${params})` : ""}`),
      el("dt", {}, "state"), el("dd", {}, c.state),
      el("dt", {}, "published"), el("dd", {}, `${when(c.publishedAt)} by ${c.publishedBy ?? "—"}`),
      el("dt", {}, "endpoint"), el("dd", {}, c.endpoint ? `${c.endpoint.url} model ${c.endpoint.model}` : "not served"),
      el("dt", {}, "built from"), el("dd", {}, Object.entries(c.builtFrom).map(([d, v]) => `${d} v${v}`).join(", ") || "—")),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "served"), el("th", {}, "policy"), el("th", {}, "members"))),
      el("tbody", {}, c.served.map((s) => el("tr", {}, el("td", {}, s.id), el("td", {}, s.policy), el("td", {}, s.members.join(", ")))))));
  document.getElementById("composition-config").textContent = c.config;
  return true;
}

// --- leaderboards -----------------------------------------------------------------------------

async function refreshLeaderboards(index) {
  const nav = document.getElementById("domains");
  if (!state.domain || !index.leaderboards.some((l) => l.domain === state.domain)) state.domain = index.leaderboards[0]?.domain ?? null;
  nav.replaceChildren(...index.leaderboards.map((l) =>
    el("button", { type: "button", "aria-pressed": l.domain === state.domain, title: `v${l.version}, leader ${l.leader ?? "—"}`, onclick: () => selectDomain(l.domain) }, l.domain)));
  if (state.domain) await showLeaderboard(state.domain);
  else document.querySelector("#leaderboard tbody").replaceChildren();
}

async function selectDomain(domain) {
  state.domain = domain;
  for (const b of document.querySelectorAll("#domains button")) b.setAttribute("aria-pressed", String(b.textContent === domain));
  await Promise.all([showLeaderboard(domain), showItems(domain)]);
}

async function showLeaderboard(domain) {
  const board = await getJson(`/leaderboards/${encodeURIComponent(domain)}`);
  document.getElementById("leaderboard-meta").textContent =
    `${board.domain}: fit v${board.version} (${board.method}, ${board.scale} scale) at ${when(board.fittedAt)} — ${board.reason}. ` +
    `Rests on ${board.restsOn.suites.map((s) => `${s.id} (${s.sha256.slice(0, 12)})`).join(", ") || "no suites"}; ` +
    `${board.restsOn.results["hub-run"] ?? 0} hub-run and ${board.restsOn.results.submitted ?? 0} submitted results.` +
    (board.warnings.length ? ` Warnings: ${board.warnings.join(" ")}` : "");
  const routed = new Set(state.composition?.experts ?? []);
  document.querySelector("#leaderboard tbody").replaceChildren(...board.entries.map((e) =>
    el("tr", { "data-expert": e.expert },
      el("td", { class: "num" }, e.rank),
      el("td", {}, `${e.rankRange[0]}–${e.rankRange[1]}`),
      el("td", {}, el("button", { type: "button", onclick: () => showExpert(e.expert) }, e.expert), routed.has(e.expert) ? " ●" : ""),
      el("td", {}, e.owner),
      el("td", { class: "num" }, num(e.rating)),
      el("td", {}, interval(e.ci)),
      el("td", { class: "num" }, num(e.meanScore)),
      el("td", { class: "num" }, e.items),
      el("td", {}, `${e.evidence["hub-run"] ?? 0} hub-run, ${e.evidence.submitted ?? 0} submitted`),
      el("td", {}, e.flagged ? el("span", { class: "flag", title: "submitted and re-run scores disagree" }, "flagged") : ""))));
  const sorted = [...board.entries].reverse();
  plot(document.getElementById("leaderboard-plot"), [{
    type: "scatter", mode: "markers",
    x: sorted.map((e) => e.rating), y: sorted.map((e) => e.expert),
    error_x: { type: "data", symmetric: false, array: sorted.map((e) => e.ci[1] - e.rating), arrayminus: sorted.map((e) => e.rating - e.ci[0]) },
    marker: { color: sorted.map((e) => (routed.has(e.expert) ? "#1f6feb" : "#8792a2")), size: 9 },
    hovertemplate: "%{y}: %{x:.2f}<extra></extra>",
  }], { xaxis: { title: { text: `ability (${board.scale})` }, zeroline: false }, yaxis: { automargin: true } });
}

// --- expert card ------------------------------------------------------------------------------

async function showExpert(id) {
  const section = document.getElementById("expert");
  const card = document.getElementById("expert-card");
  section.hidden = false;
  document.getElementById("expert-id").textContent = id;
  try {
    const e = await getJson(`/experts/${encodeURIComponent(id)}`);
    const a = e.artefact;
    const rows = (headers, list, cells) => el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, list.length ? list.map((x) => el("tr", {}, cells(x).map((c) => el("td", {}, c)))) : el("tr", {}, el("td", { colspan: headers.length, class: "note" }, "none"))));
    card.replaceChildren(
      el("dl", {},
        el("dt", {}, "owner"), el("dd", {}, e.owner),
        el("dt", {}, "family / base"), el("dd", {}, `${e.family} / ${e.base ?? "—"}`),
        el("dt", {}, "domains"), el("dd", {}, e.domains.join(", ") || "—"),
        el("dt", {}, "licence"), el("dd", {}, e.licence),
        el("dt", {}, "artefact"), el("dd", {}, `${a.kind} (${a.origin})${a.sha256 ? ` sha256 ${a.sha256}` : ""}${a.bytes ? `, ${a.bytes} bytes` : ""}${a.baseExpert ? `, adapts ${a.baseExpert}` : ""}${a.url ? `, ${a.url} ${a.model ?? ""}` : ""}`),
        el("dt", {}, "revision"), el("dd", {}, `${e.revision} (${e.state}${e.flagged ? ", flagged" : ""}), updated ${when(e.updatedAt)}`),
        el("dt", {}, "description"), el("dd", {}, e.card.description),
        el("dt", {}, "training"), el("dd", {}, e.card.training ?? "—"),
        el("dt", {}, "intended use"), el("dd", {}, e.card.intendedUse ?? "—"),
        el("dt", {}, "limitations"), el("dd", {}, e.card.limitations ?? "—"),
        ...Object.entries(e.card.extra ?? {}).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      el("h3", {}, "Standings"),
      rows(["domain", "rank", "ability", "95% interval", "leaderboard"], e.standings, (s) => [s.domain, s.rank, num(s.rating), interval(s.ci), `v${s.leaderboardVersion}`]),
      el("h3", {}, "Evidence"),
      rows(["suite", "domain", "source", "producer", "items", "mean ± se", "updated"], e.evidence, (v) => [v.suite, v.domain, v.source, v.producer, v.items, `${num(v.mean, 3)} ± ${num(v.stderr, 3)}`, when(v.updatedAt)]),
      el("h3", {}, "Checks of submitted evidence"),
      rows(["suite", "domain", "sampled", "submitted", "re-run", "verdict"], e.checks, (c) => [c.suite, c.domain, c.sampled, `${num(c.submittedMean, 3)} ± ${num(c.submittedStderr, 3)}`, `${num(c.rerunMean, 3)} ± ${num(c.rerunStderr, 3)}`, c.disagrees ? el("span", { class: "flag" }, "disagree") : "agree"]),
      el("h3", {}, "Where it is routed"),
      rows(["composition", "served as", "policy", "domains"], e.routedIn, (r) => [`v${r.compositionVersion}`, r.servedId, r.policy, r.domains.join(", ")]));
  } catch (error) {
    showError(card, error);
  }
}

// --- item quality -----------------------------------------------------------------------------

async function showItems(domain) {
  document.getElementById("items-domain").textContent = domain ? `(${domain})` : "";
  const list = await getJson(`/items?domain=${encodeURIComponent(domain ?? "")}&limit=200`);
  document.querySelector("#item-table tbody").replaceChildren(...list.items.map((i) =>
    el("tr", {}, el("td", {}, i.item), el("td", {}, i.suite), el("td", { class: "num" }, num(i.difficulty)), el("td", { class: "num" }, num(i.discrimination)),
      el("td", { class: "num" }, num(i.information, 3)), el("td", { class: "num" }, num(i.meanScore)), el("td", { class: "num" }, i.responses),
      el("td", {}, i.flags.length ? el("span", { class: "flag" }, i.flags.join(", ")) : ""))));
  const fitted = list.items.filter((i) => i.difficulty !== null && i.discrimination !== null);
  plot(document.getElementById("items-plot"), [{
    type: "scatter", mode: "markers",
    x: fitted.map((i) => i.difficulty), y: fitted.map((i) => i.discrimination), text: fitted.map((i) => i.item),
    marker: { color: fitted.map((i) => (i.flags.length ? "#b42318" : "#1f6feb")), size: 7 },
    hovertemplate: "%{text}<br>difficulty %{x:.2f}, discrimination %{y:.2f}<extra></extra>",
  }], { xaxis: { title: { text: "difficulty" } }, yaxis: { title: { text: "discrimination" } }, margin: { l: 60, r: 20, t: 10, b: 40 } });
}

// --- playground -------------------------------------------------------------------------------

async function refreshModels() {
  const select = document.getElementById("playground-model");
  const note = document.getElementById("playground-note");
  try {
    const response = await fetch(`${state.gateway}/models`, { headers: keyHeaders(`${state.gateway}/models`) });
    if (!response.ok) throw new Error(`the gateway answered HTTP ${response.status}`);
    const ids = (await response.json()).data.map((m) => m.id);
    if (ids.join() === state.models.join()) return;
    state.models = ids;
    const preferred = state.composition?.endpoint?.model ?? "unified";
    const previous = select.value;
    select.replaceChildren(...ids.map((id) => el("option", { value: id }, id)));
    select.value = ids.includes(previous) ? previous : ids.includes(preferred) ? preferred : ids[0] ?? "";
    note.textContent = `Streams from ${state.gateway}/chat/completions.`;
  } catch (error) {
    note.textContent = `The gateway is not reachable: ${error.message}`;
  }
}

async function send(event) {
  event.preventDefault();
  const output = document.getElementById("playground-output");
  const button = document.getElementById("playground-send");
  output.textContent = "";
  output.dataset.state = "streaming";
  button.disabled = true;
  try {
    const response = await fetch(`${state.gateway}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...keyHeaders(`${state.gateway}/chat/completions`) },
      body: JSON.stringify({
        model: document.getElementById("playground-model").value,
        messages: [{ role: "user", content: document.getElementById("playground-prompt").value }],
        max_tokens: Number(document.getElementById("playground-max").value) || 48,
        stream: true,
      }),
    });
    if (!response.ok || !response.body) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        output.append(chunk.choices?.[0]?.delta?.content ?? "");
      }
    }
    output.dataset.state = "done";
  } catch (error) {
    output.dataset.state = "failed";
    output.append(`\n[error: ${error.message}]`);
  } finally {
    button.disabled = false;
  }
}

// --- start ------------------------------------------------------------------------------------

async function tick(first) {
  try {
    await refreshStatus();
    const changed = await refreshComposition();
    // A refit (a new expert evaluated, new evidence) shows even when the composition stays.
    const index = await getJson("/leaderboards");
    const fits = index.leaderboards.map((l) => `${l.domain} v${l.version}`).join();
    if (first || changed || fits !== state.fits) {
      state.fits = fits;
      await refreshLeaderboards(index);
      await showItems(state.domain);
    }
    await refreshModels();
  } catch (error) {
    document.getElementById("status").textContent = `Could not read the hub's API: ${error.message}`;
  }
}

document.getElementById("playground-form").addEventListener("submit", send);
document.getElementById("key-form").addEventListener("submit", useKey);
await tick(true);
setInterval(() => void tick(false), refreshMs);
