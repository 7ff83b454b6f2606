"use strict";
// The library page: map (Plotly scattergl), sortable/filterable table, threshold, playback, exports.
const state = {
  data: null, token: "", metric: "variation", sortKey: "variation", sortDir: -1,
  matching: [], visible: [], threshold: 0.5, playing: null,
};
const MAX_ROWS = 500;
const $ = (id) => document.getElementById(id);

function value(i, key = state.metric) {
  const d = state.data;
  if (key in d.aspects) return d.aspects[key][i];
  return d[key][i];
}

function label(i) {
  const d = state.data;
  return d.folder[i] === "." ? d.name[i] : `${d.folder[i]}/${d.name[i]}`;
}

function columns() {
  const cols = [
    { key: "folder", title: "folder" },
    { key: "name", title: "name" },
    { key: "duration", title: "seconds", num: 2 },
    { key: "variation", title: "variation", num: 3 },
  ];
  for (const aspect of Object.keys(state.data.aspects)) cols.push({ key: aspect, title: aspect, num: 3 });
  cols.push({ key: "raw", title: "raw score", num: 4 }, { key: "flagged", title: "flag" });
  return cols;
}

function applyFilters() {
  const d = state.data;
  const folder = $("folder").value;
  const name = $("name-filter").value.trim().toLowerCase();
  const minScore = parseFloat($("min-score").value) || 0;
  const flag = $("flag-filter").value;
  const out = [];
  for (let i = 0; i < d.id.length; i++) {
    if (folder && d.folder[i] !== folder) continue;
    if (name && !label(i).toLowerCase().includes(name)) continue;
    const v = value(i);
    if (minScore > 0 && !(v >= minScore)) continue;
    if (flag === "flagged" && !d.flagged[i]) continue;
    if (flag === "unflagged" && d.flagged[i]) continue;
    out.push(i);
  }
  state.matching = out;
  sortRows();
}

// The table lists the matching loops in the chosen order; the map keeps them in the database's order,
// so a sort re-draws the table only.
function sortRows() {
  const d = state.data, key = state.sortKey, dir = state.sortDir;
  state.visible = [...state.matching].sort((a, b) => {
    const va = value(a, key), vb = value(b, key);
    if (va === vb) return d.id[a] - d.id[b];
    if (va === null || va === undefined) return 1;
    if (vb === null || vb === undefined) return -1;
    return (va < vb ? -1 : 1) * dir;
  });
}

function wouldFlag(i) {
  const v = value(i);
  return v !== null && v !== undefined && v >= state.threshold;
}

// The loops the threshold would flag are the map's selected points (larger, opaque; the rest dimmed):
// a threshold change restyles one index list instead of a second trace's coordinates.
function flaggedPoints() {
  const out = [];
  state.matching.forEach((i, k) => { if (wouldFlag(i)) out.push(k); });
  return out;
}

function drawMap() {
  const d = state.data, idx = state.matching;
  const points = {
    type: "scattergl", mode: "markers", name: "loops",
    x: idx.map((i) => d.x[i]), y: idx.map((i) => d.y[i]),
    customdata: idx.map((i) => d.id[i]),
    text: idx.map(label),
    hovertemplate: "%{text}<br>" + state.metric + " %{marker.color:.3f}<extra></extra>",
    marker: {
      color: idx.map((i) => value(i)), cmin: 0, cmax: 1, colorscale: "Viridis", size: 7,
      colorbar: { title: { text: state.metric } },
    },
    selectedpoints: flaggedPoints(),
    selected: { marker: { size: 11, opacity: 1 } },
    unselected: { marker: { opacity: 0.35 } },
  };
  const layout = {
    margin: { l: 40, r: 10, t: 10, b: 30 }, hovermode: "closest", uirevision: "keep", showlegend: false, dragmode: "pan",
    xaxis: { title: { text: "map x (PCA 1)" }, zeroline: false }, yaxis: { title: { text: "map y (PCA 2)" }, zeroline: false },
  };
  Plotly.react("map", [points], layout, rt.plotConfig);
}

function drawFlaggedPoints() {
  Plotly.restyle("map", { selectedpoints: [flaggedPoints()] }, [0]);
}

function markFlaggedRows() {
  for (const tr of document.querySelectorAll("#table-body tr")) tr.classList.toggle("would-flag", wouldFlag(Number(tr.dataset.row)));
}

function drawTable() {
  const d = state.data, cols = columns();
  const head = $("table-head");
  head.replaceChildren();
  for (const col of cols) {
    const th = document.createElement("th");
    th.textContent = col.title;
    th.dataset.key = col.key;
    if (col.key === state.sortKey) th.className = state.sortDir > 0 ? "sorted-asc" : "sorted-desc";
    th.addEventListener("click", () => {
      state.sortDir = state.sortKey === col.key ? -state.sortDir : (col.num ? -1 : 1);
      state.sortKey = col.key;
      sortRows();
      drawTable();
    });
    head.appendChild(th);
  }
  const body = $("table-body");
  body.replaceChildren();
  for (const i of state.visible.slice(0, MAX_ROWS)) {
    const tr = document.createElement("tr");
    tr.dataset.id = d.id[i];
    tr.dataset.row = i;
    if (wouldFlag(i)) tr.classList.add("would-flag");
    if (state.playing === d.id[i]) tr.classList.add("playing");
    for (const col of cols) {
      const v = value(i, col.key);
      const text = col.key === "flagged" ? (v ? "FLAG" : "") : col.num ? rt.fmt(v, col.num) : v;
      const cls = (col.num ? "num" : "") + (col.key === state.metric ? " score" : "");
      rt.cell(tr, text, cls.trim());
    }
    tr.addEventListener("click", () => play(i));
    body.appendChild(tr);
  }
  const shown = Math.min(state.visible.length, MAX_ROWS);
  $("table-info").textContent =
    `${state.visible.length} of ${d.id.length} loops match` + (shown < state.visible.length ? ` (first ${shown} listed)` : "");
}

function drawThreshold() {
  const n = state.visible.filter(wouldFlag).length;
  $("threshold-value").textContent = state.threshold.toFixed(2);
  $("would-flag").textContent = `${n} of ${state.visible.length} would be flagged at ${state.metric} ≥ ${state.threshold.toFixed(2)}`;
}

function refresh() {
  applyFilters();
  drawMap();
  drawTable();
  drawThreshold();
}

// Inputs that fire while dragging or typing re-draw at most once per animation frame.
const pending = new Set();
function schedule(fn) {
  if (pending.size === 0) requestAnimationFrame(() => { const fns = [...pending]; pending.clear(); fns.forEach((f) => f()); });
  pending.add(fn);
}
function onThreshold() {
  drawFlaggedPoints();
  markFlaggedRows();
  drawThreshold();
}

function play(i) {
  const d = state.data;
  state.playing = d.id[i];
  for (const tr of document.querySelectorAll("#table-body tr")) tr.classList.toggle("playing", Number(tr.dataset.id) === d.id[i]);
  rt.play(`/audio/${d.id[i]}`, label(i));
}

function selection() {
  const limit = parseInt($("limit").value, 10);
  const rows = limit > 0 ? state.visible.slice(0, limit) : state.visible;
  return rows.map((i) => state.data.id[i]);
}

async function exportSelection(kind) {
  const body = { ids: selection() };
  if (kind === "copy") body.folder = $("copy-folder").value;
  const status = $("export-status");
  status.textContent = "…";
  const response = await fetch(`/api/export/${kind}`, {
    method: "POST", headers: { "Content-Type": "application/json", "X-Rtloop-Token": state.token }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    status.textContent = `export failed: ${await response.text()}`;
    return;
  }
  if (kind === "copy") {
    const result = await response.json();
    status.textContent = `copied ${result.copied} files into ${result.folder}` +
      (result.skipped.length ? `; not copied: ${result.skipped.join("; ")}` : "");
    return;
  }
  const blob = await response.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = kind === "csv" ? "selection.csv" : "selection.m3u";
  document.body.appendChild(a);
  a.click();
  a.remove();
  status.textContent = `exported ${body.ids.length} loops as ${kind.toUpperCase()}`;
}

async function main() {
  const body = await rt.getJSON("/api/library");
  state.data = body.loops;
  state.token = body.token;
  const s = body.summary, counts = s.counts;
  $("summary").textContent = `${body.source}: ${counts.scored || 0} loops scored, ${counts.unreadable || 0} unreadable, ` +
    `${counts.missing || 0} gone · bundle ${s.bundle} · scanned ${s.scanned}`;
  if (s.unreadable.length) {
    $("unreadable-box").hidden = false;
    $("unreadable-title").textContent = `${s.unreadable.length} unreadable files`;
    for (const u of s.unreadable) {
      const li = document.createElement("li");
      li.textContent = `${u.path}: ${u.reason}`;
      $("unreadable").appendChild(li);
    }
  }
  const metric = $("metric");
  for (const key of ["variation", ...Object.keys(state.data.aspects)]) metric.add(new Option(key === "variation" ? "overall variation" : key, key));
  const folders = [...new Set(state.data.folder)].sort();
  for (const f of folders) $("folder").add(new Option(f, f));
  metric.addEventListener("change", () => { state.metric = metric.value; state.sortKey = metric.value; state.sortDir = -1; refresh(); });
  for (const id of ["folder", "flag-filter"]) $(id).addEventListener("change", refresh);
  for (const id of ["name-filter", "min-score"]) $(id).addEventListener("input", () => schedule(refresh));
  $("threshold").addEventListener("input", () => { state.threshold = parseFloat($("threshold").value); schedule(onThreshold); });
  for (const kind of ["csv", "m3u", "copy"]) $(`export-${kind}`).addEventListener("click", () => exportSelection(kind));
  refresh();
  $("map").on("plotly_click", (ev) => play(state.data.id.indexOf(ev.points[0].customdata)));
  document.body.dataset.ready = "1";
}

main().catch((err) => { $("summary").textContent = `error: ${err.message}`; });
