// The discovery view: rank a served index's catalogue by how unusual each
// object is, label what you see (interesting / not), and get more like the
// interesting ones; labels stay in this page (and sessionStorage) and export
// as CSV (object_id,label), which `astrofm discover --labels` reads.
// Uses app.js's api(), catalogue and objectCard().
"use strict";
const disc = { labels: new Map(), round: 0, shown: [] };

function discStatus(msg, error) { $("disc-status").textContent = msg; $("disc-status").className = error ? "error" : ""; }

function discIndex() { return $("disc-index").value; }

function saveLabels() {
  sessionStorage.setItem("astrofm-labels-" + discIndex(), JSON.stringify([...disc.labels]));
}

function loadLabels() {
  const saved = sessionStorage.getItem("astrofm-labels-" + discIndex());
  disc.labels = new Map(saved ? JSON.parse(saved) : []);
}

function showProgress() {
  let yes = 0, no = 0;
  for (const v of disc.labels.values()) (v ? yes++ : no++);
  $("disc-progress").textContent = disc.labels.size
    ? `round ${disc.round} · ${yes} interesting · ${no} not · ${disc.labels.size} labelled`
    : "none yet";
  $("disc-more").disabled = yes === 0;
}

function setLabel(c, value) {
  const id = c.dataset.objectId;
  if (value === null) disc.labels.delete(id); else disc.labels.set(id, value);
  c.classList.toggle("yes", value === 1);
  c.classList.toggle("no", value === 0);
  saveLabels();
  showProgress();
}

function discCard(hit, i) {
  const c = objectCard(hit.object_id, `#${i + 1}  score ${hit.score.toFixed(3)}`);
  c.tabIndex = 0;
  const v = document.createElement("div");
  v.className = "verdict";
  const yes = document.createElement("button");
  yes.type = "button"; yes.className = "yes"; yes.textContent = "✓ interesting"; yes.title = "y";
  const no = document.createElement("button");
  no.type = "button"; no.className = "no"; no.textContent = "✗ not"; no.title = "n";
  yes.addEventListener("click", (e) => { e.stopPropagation(); setLabel(c, 1); c.focus(); });
  no.addEventListener("click", (e) => { e.stopPropagation(); setLabel(c, 0); c.focus(); });
  v.append(yes, no);
  c.append(v);
  if (disc.labels.has(hit.object_id)) {
    c.classList.toggle("yes", disc.labels.get(hit.object_id) === 1);
    c.classList.toggle("no", disc.labels.get(hit.object_id) === 0);
  }
  return c;
}

function showObjects(objects) {
  const box = $("disc-results");
  box.innerHTML = "";
  disc.shown = objects;
  objects.forEach((h, i) => box.appendChild(discCard(h, i)));
  const first = box.querySelector(".card");
  if (first) first.focus();
}

async function discover(mode) {
  const k = Math.min(200, parseInt($("disc-k").value, 10) || 24);
  const body = { index: discIndex(), mode: mode, k: k };
  if (mode === "anomalies") {
    body.method = $("disc-anomaly-method").value;
  } else {
    body.positives = [...disc.labels].filter(([, v]) => v === 1).map(([id]) => id);
    body.negatives = [...disc.labels].filter(([, v]) => v === 0).map(([id]) => id);
    body.suggest = k;
    body.acquisition = $("disc-acquisition").value;
  }
  discStatus(mode === "anomalies" ? "ranking by how unusual…" : "learning from your labels…");
  try {
    const res = await api("/v1/discover", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    if (mode === "similar") disc.round++;
    showObjects(mode === "similar" ? res.suggested : res.hits);
    showProgress();
    discStatus(mode === "anomalies"
      ? `the ${res.hits.length} most unusual of ${res.objects} objects (${res.method}, ${res.column}); label what you see`
      : `round ${disc.round}: ${res.suggested.length} objects to label (${body.acquisition}), from ${res.positives} interesting and ${res.negatives} not`);
  } catch (e) {
    discStatus(e.message, true);
  }
}

function exportLabels() {
  const lines = ["object_id,label"];
  for (const [id, v] of disc.labels) lines.push(`${id},${v}`);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  a.download = `labels-${discIndex()}.csv`;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

async function importLabels() {
  const file = $("disc-import").files[0];
  if (!file) return;
  const rows = (await file.text()).split(/\r?\n/).filter((l) => l.trim());
  const head = rows.shift().split(",").map((s) => s.trim().toLowerCase());
  const idc = head.indexOf("object_id"), lc = head.indexOf("label");
  if (idc < 0 || lc < 0) return discStatus(`${file.name}: needs object_id and label columns`, true);
  const yes = ["1", "yes", "true", "interesting"], no = ["0", "no", "false", "not"];
  for (const [i, r] of rows.entries()) {
    const f = r.split(","), v = (f[lc] || "").trim().toLowerCase();
    if (!yes.includes(v) && !no.includes(v)) return discStatus(`${file.name}: row ${i + 2}: label '${v}' (1/0, yes/no)`, true);
    disc.labels.set(f[idc].trim(), yes.includes(v) ? 1 : 0);
  }
  saveLabels();
  showProgress();
  discStatus(`${rows.length} labels read from ${file.name}`);
}

function fillDiscIndexes() {
  const sel = $("disc-index");
  const keep = sel.value;
  sel.innerHTML = "";
  for (const i of catalogue.indexes) {
    const o = document.createElement("option");
    o.value = i.name; o.textContent = `${i.name} (${i.modality}, ${i.objects})`;
    sel.appendChild(o);
  }
  if (keep) sel.value = keep;
  loadLabels();
  showProgress();
}

function switchView(discoverView) {
  $("search-view").hidden = discoverView;
  $("discover-view").hidden = !discoverView;
  $("view-search").classList.toggle("active", !discoverView);
  $("view-discover").classList.toggle("active", discoverView);
  if (discoverView) fillDiscIndexes();
}

$("disc-results").addEventListener("keydown", (e) => {
  const c = e.target.closest(".card");
  if (!c) return;
  const cards = [...$("disc-results").querySelectorAll(".card")];
  const i = cards.indexOf(c);
  const move = (j) => { if (cards[j]) cards[j].focus(); };
  if (e.key === "y") { setLabel(c, 1); move(i + 1); }
  else if (e.key === "n") { setLabel(c, 0); move(i + 1); }
  else if (e.key === "u") setLabel(c, null);
  else if (e.key === "ArrowRight") move(i + 1);
  else if (e.key === "ArrowLeft") move(i - 1);
  else if (e.key === "Enter" && !$("disc-more").disabled) discover("similar");
  else return;
  e.preventDefault();
});
$("view-search").addEventListener("click", () => switchView(false));
$("view-discover").addEventListener("click", () => switchView(true));
$("disc-index").addEventListener("change", () => { loadLabels(); showProgress(); $("disc-results").innerHTML = ""; });
$("disc-anomalies").addEventListener("click", () => discover("anomalies"));
$("disc-more").addEventListener("click", () => discover("similar"));
$("disc-export").addEventListener("click", exportLabels);
$("disc-import").addEventListener("change", importLabels);
$("disc-clear").addEventListener("click", () => { disc.labels.clear(); disc.round = 0; saveLabels(); showProgress(); showObjects(disc.shown); });
$("discover-form").addEventListener("submit", (e) => e.preventDefault());
