// astrofm's search page: plain JavaScript and Vega-Lite (the sky plot), served by `astrofm serve`.
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

// A result card: the object's cutout, its id (a link to its metadata) and a caption.
function objectCard(objectId, caption) {
  const c = document.createElement("div");
  c.className = "card";
  c.dataset.objectId = objectId;
  const img = document.createElement("img");
  img.alt = objectId;
  cutoutInto(img, objectId);
  const idl = document.createElement("a");
  idl.className = "id";
  idl.href = `/v1/objects/${encodeURIComponent(objectId)}`;
  idl.textContent = objectId;
  idl.addEventListener("click", (e) => { e.preventDefault(); showMeta(objectId); });
  const s = document.createElement("div");
  s.className = "score";
  s.textContent = caption;
  c.append(img, idl, s);
  return c;
}

function card(hit, isQuery) {
  const c = objectCard(hit.object_id, isQuery ? "query" : `#${hit.rank}  score ${hit.score.toFixed(4)}`);
  if (isQuery) c.classList.add("query");
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

// The results on the sky (Vega-Lite): RA grows to the left, as on the sky;
// colour from nearest to farthest neighbour; hover for the values.
function skyplot(hits, queryId) {
  const pts = hits.filter((h) => Number.isFinite(h.ra) && Number.isFinite(h.dec))
    .map((h) => ({ object_id: h.object_id, ra: h.ra, dec: h.dec, rank: h.rank, score: h.score }));
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: pts.length ? `${pts.length} results on the sky` : "no sky positions", anchor: "start" },
    width: 250, height: 230,
    data: { values: pts },
    mark: { type: "point", filled: true, size: 60 },
    encoding: {
      x: { field: "ra", type: "quantitative", title: "RA (deg)", scale: { zero: false, reverse: true } },
      y: { field: "dec", type: "quantitative", title: "Dec (deg)", scale: { zero: false } },
      color: { field: "rank", type: "quantitative", title: "rank", scale: { scheme: "plasma" } },
      tooltip: [{ field: "object_id" }, { field: "rank" }, { field: "score", format: ".4f" },
                { field: "ra", title: "RA (deg)", format: ".5f" }, { field: "dec", title: "Dec (deg)", format: ".5f" }],
    },
  };
  // No eval under the page's Content-Security-Policy: Vega's expressions go through vega-interpreter.
  vegaEmbed("#skyplot", spec, { renderer: "svg", ast: true, expr: vega.expressionInterpreter,
                                actions: { export: true, source: false, compiled: false, editor: false } })
    .catch((e) => { $("skyplot").textContent = "sky plot: " + e.message; });
}

document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", fillIndexes));
$("search-form").addEventListener("submit", search);
$("token").addEventListener("change", () => { sessionStorage.setItem("astrofm-token", $("token").value); init(); });
init().catch((e) => status(e.message, true));
