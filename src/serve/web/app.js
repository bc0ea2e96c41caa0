// astrofm's search page: plain JavaScript, no libraries, served by `astrofm serve`.
"use strict";
const $ = (id) => document.getElementById(id);
let catalogue = { models: [], indexes: [], datasets: [], probes: [] };

function token() { return $("token").value || sessionStorage.getItem("astrofm-token") || ""; }
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}
function status(msg, error) { $("status").textContent = msg; $("status").className = error ? "error" : ""; }

async function api(path, options) {
  const r = await fetch(path, Object.assign({}, options, { headers: headers(options && options.headers) }));
  const type = r.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await r.json() : await r.blob();
  if (!r.ok) throw new Error(body && body.error ? body.error.message : "HTTP " + r.status);
  return body;
}

function indexFor(mode) {
  // image -> image: an index of image embeddings; image -> spectrum: of spectrum embeddings.
  return catalogue.indexes.find((i) => i.modality === mode) || catalogue.indexes[0];
}

function fillIndexes() {
  const sel = $("index");
  sel.innerHTML = "";
  for (const i of catalogue.indexes) {
    const o = document.createElement("option");
    o.value = i.name; o.textContent = `${i.name} (${i.modality}, ${i.objects})`;
    sel.appendChild(o);
  }
  const pick = indexFor(document.querySelector("input[name=mode]:checked").value);
  if (pick) sel.value = pick.name;
}

async function init() {
  $("token").value = sessionStorage.getItem("astrofm-token") || "";
  const health = await api("/v1/health");
  $("token-box").hidden = !health.auth;
  try {
    catalogue = await api("/v1/models");
    $("server-info").textContent = `astrofm ${health.version}: ${catalogue.indexes.length} indexes, ${catalogue.models.length} models`;
    fillIndexes();
    const first = catalogue.indexes[0];
    if (first) $("object-id").placeholder = "an id of " + first.name;
  } catch (e) {
    $("server-info").textContent = "astrofm " + health.version;
    status(e.message + (health.auth ? " (enter the token above)" : ""), true);
  }
}

function uploadType(name) {
  const n = name.toLowerCase();
  if (n.endsWith(".png")) return "image/png";
  if (n.endsWith(".jpg") || n.endsWith(".jpeg")) return "image/jpeg";
  if (n.endsWith(".fits") || n.endsWith(".fit")) return "application/fits";
  if (n.endsWith(".npy")) return "application/x-npy";
  return "application/x-hdf5";
}

async function search(ev) {
  if (ev) ev.preventDefault();
  sessionStorage.setItem("astrofm-token", $("token").value);
  const mode = document.querySelector("input[name=mode]:checked").value;
  const index = $("index").value;
  const k = parseInt($("k").value, 10) || 12;
  const dedup = parseFloat($("dedup").value) || 0;
  const cone = $("use-cone").checked ? [parseFloat($("cone-ra").value), parseFloat($("cone-dec").value), parseFloat($("cone-radius").value)] : null;
  const file = $("upload").files[0];
  const id = $("object-id").value.trim();
  status("searching…");
  try {
    let res;
    if (file && !id) {
      const q = new URLSearchParams({ index: index, k: String(k), dedup_arcsec: String(dedup) });
      if ($("bands").value.trim()) q.set("bands", $("bands").value.trim());
      if (cone) { q.set("ra", cone[0]); q.set("dec", cone[1]); q.set("radius", cone[2]); }
      res = await api("/v1/search?" + q, { method: "POST", body: file, headers: { "Content-Type": uploadType(file.name) } });
    } else if (id) {
      const body = { index: index, id: id, k: k, dedup_arcsec: dedup, query_modality: "image" };
      if (cone) body.cone = cone;
      res = await api("/v1/search", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    } else {
      throw new Error("give an object id or choose a file to upload");
    }
    show(res, id);
    status(`${res.hits.length} neighbours in ${res.index} (${res.column}, ${res.metric})`);
  } catch (e) {
    status(e.message, true);
  }
}

async function cutoutInto(img, objectId) {
  try {
    const blob = await api(`/v1/objects/${encodeURIComponent(objectId)}/cutout.png`);
    img.src = URL.createObjectURL(blob);
  } catch (e) {
    img.alt = "no image";
    img.className = "noimg";
  }
}

async function showMeta(objectId) {
  try {
    const m = await api(`/v1/objects/${encodeURIComponent(objectId)}`);
    $("meta-panel").textContent = JSON.stringify(m, null, 1);
  } catch (e) {
    $("meta-panel").textContent = e.message;
  }
}

function card(hit, isQuery) {
  const c = document.createElement("div");
  c.className = "card" + (isQuery ? " query" : "");
  c.dataset.objectId = hit.object_id;
  const img = document.createElement("img");
  img.alt = hit.object_id;
  cutoutInto(img, hit.object_id);
  const idl = document.createElement("a");
  idl.className = "id";
  idl.href = `/v1/objects/${encodeURIComponent(hit.object_id)}`;
  idl.textContent = hit.object_id;
  idl.addEventListener("click", (e) => { e.preventDefault(); showMeta(hit.object_id); });
  const s = document.createElement("div");
  s.className = "score";
  s.textContent = isQuery ? "query" : `#${hit.rank}  score ${hit.score.toFixed(4)}`;
  c.append(img, idl, s);
  c.addEventListener("click", () => showMeta(hit.object_id));
  return c;
}

function show(res, queryId) {
  const box = $("results");
  box.innerHTML = "";
  if (queryId) box.appendChild(card({ object_id: queryId }, true));
  for (const h of res.hits) box.appendChild(card(h, false));
  skyplot(res.hits, queryId);
}

function skyplot(hits, queryId) {
  const cv = $("skyplot"), g = cv.getContext("2d"), W = cv.width, H = cv.height, pad = 36;
  g.clearRect(0, 0, W, H);
  const pts = hits.filter((h) => Number.isFinite(h.ra) && Number.isFinite(h.dec));
  g.fillStyle = "#1c2330"; g.font = "11px sans-serif";
  if (!pts.length) { g.fillText("no sky positions", W / 2 - 40, H / 2); return; }
  let r0 = Math.min(...pts.map((p) => p.ra)), r1 = Math.max(...pts.map((p) => p.ra));
  let d0 = Math.min(...pts.map((p) => p.dec)), d1 = Math.max(...pts.map((p) => p.dec));
  const m = Math.max(r1 - r0, d1 - d0, 1e-3) * 0.1;
  r0 -= m; r1 += m; d0 -= m; d1 += m;
  // RA grows to the left, as on the sky.
  const x = (ra) => W - pad - (ra - r0) / (r1 - r0) * (W - 2 * pad);
  const y = (dec) => H - pad - (dec - d0) / (d1 - d0) * (H - 2 * pad);
  g.strokeStyle = "#99a"; g.strokeRect(pad, pad, W - 2 * pad, H - 2 * pad);
  g.fillText(`RA ${r1.toFixed(3)}°`, pad, H - 10); g.fillText(`${r0.toFixed(3)}°`, W - pad - 40, H - 10);
  g.save(); g.translate(12, H - pad); g.rotate(-Math.PI / 2); g.fillText(`Dec ${d0.toFixed(3)}° … ${d1.toFixed(3)}°`, 0, 0); g.restore();
  pts.forEach((p, i) => {
    g.fillStyle = `hsl(${210 - 180 * i / Math.max(1, pts.length - 1)}, 70%, 45%)`;
    g.beginPath(); g.arc(x(p.ra), y(p.dec), 4, 0, 2 * Math.PI); g.fill();
  });
  g.fillStyle = "#1c2330";
  g.fillText("nearest: blue → farthest: orange", pad, pad - 10);
}

document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", fillIndexes));
$("search-form").addEventListener("submit", search);
$("token").addEventListener("change", () => { sessionStorage.setItem("astrofm-token", $("token").value); init(); });
init().catch((e) => status(e.message, true));
