"use strict";
// Shared by the library and takes pages: plot options, JSON fetch, playback, number formatting.
const rt = {
  // Plotly's options for both pages. Plotly draws WebGL traces at twice the screen's resolution unless
  // told otherwise: at the screen's own, a pan re-draws a quarter of the pixels on a standard display
  // (in software WebGL, 10,000 points: 133 -> 64 ms per drag frame). The wheel zooms, as on a map.
  plotConfig: { responsive: true, displaylogo: false, scrollZoom: true, plotGlPixelRatio: window.devicePixelRatio || 1 },
  async getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    return response.json();
  },
  play(url, label) {
    const player = document.getElementById("player");
    player.src = url;
    document.getElementById("now-playing").textContent = label;
    player.play().catch((err) => {
      document.getElementById("now-playing").textContent = `${label} (press play: ${err.message})`;
    });
  },
  fmt(value, digits = 3) {
    return value === null || value === undefined || Number.isNaN(value) ? "" : Number(value).toFixed(digits);
  },
  cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  },
};
