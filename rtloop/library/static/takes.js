"use strict";
// The takes page: a session's loops on a timeline (variation over wall time), marks, playback of kept takes.
const $ = (id) => document.getElementById(id);

async function main() {
  const body = await rt.getJSON("/api/takes");
  const records = body.records.map((r, index) => ({ ...r, index }));
  const loops = records.filter((r) => r.event === "loop");
  const marks = records.filter((r) => r.event === "mark");
  const kept = loops.filter((r) => r.file);
  $("summary").textContent = `${body.folder}: ${loops.length} loops, ${loops.filter((r) => r.flagged).length} over threshold, ` +
    `${marks.length} marked, ${kept.length} kept as takes`;
  const time = (r) => r.wall_time.replace("T", " ");
  const line = {
    type: "scattergl", mode: "lines", name: "variation", x: loops.map(time), y: loops.map((r) => r.variation),
    line: { width: 1, color: "#7f8c8d" }, hoverinfo: "skip",
  };
  const takes = {
    type: "scattergl", mode: "markers", name: "kept take", x: kept.map(time), y: kept.map((r) => r.variation),
    customdata: kept.map((r) => r.index), text: kept.map((r) => `bar ${r.bar}: ${r.file}`),
    hovertemplate: "%{text}<br>variation %{y:.3f}<extra></extra>",
    marker: { size: 9, color: kept.map((r) => (r.flagged ? "#c0392b" : "#2e86c1")) },
  };
  const shapes = marks.map((r) => ({ type: "line", xref: "x", yref: "paper", x0: time(r), x1: time(r), y0: 0, y1: 1, line: { color: "#f39c12", dash: "dot" } }));
  shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: body.threshold, y1: body.threshold, line: { color: "#c0392b", dash: "dash" } });
  Plotly.react("timeline", [line, takes], {
    margin: { l: 50, r: 10, t: 10, b: 40 }, hovermode: "closest", shapes,
    yaxis: { title: { text: "variation" }, range: [0, 1.05] }, xaxis: { title: { text: "time" } },
  }, rt.plotConfig);
  $("timeline").on("plotly_click", (ev) => {
    const r = records[ev.points[0].customdata];
    if (r && r.file) rt.play(`/take/${r.index}`, r.file);
  });
  const tbody = $("table-body");
  for (const r of loops) {
    const tr = document.createElement("tr");
    tr.dataset.index = r.index;
    for (const text of [time(r), r.bar, rt.fmt(r.bpm, 1), rt.fmt(r.score, 4), rt.fmt(r.variation, 3), r.flagged ? "FLAG" : "", r.marked ? "MARK" : "", r.file]) {
      rt.cell(tr, text);
    }
    if (r.file) tr.addEventListener("click", () => rt.play(`/take/${r.index}`, r.file));
    tbody.appendChild(tr);
  }
  document.body.dataset.ready = "1";
}

main().catch((err) => { $("summary").textContent = `error: ${err.message}`; });
