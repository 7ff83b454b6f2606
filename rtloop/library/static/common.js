"use strict";
// Shared by the library and takes pages: JSON fetch, playback, number formatting.
const rt = {
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
