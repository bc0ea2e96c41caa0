// End to end: astrofm serve's web page in headless Chromium (Debian's, through
// playwright-core): search by id, the image->spectrum toggle, the cone filter,
// an upload, metadata, the sky plot; a screenshot at the end.
// Then the discovery view: anomalies, one-key labels, a round of "more like
// these", labels exported and imported; a second screenshot.
//   node browser_test.mjs URL QUERY_ID UPLOAD.npy SCREENSHOT.png [DISCOVERY_SCREENSHOT.png]
import { chromium } from "playwright-core";

import { readFileSync, writeFileSync } from "node:fs";

const [url, queryId, upload, shot, discShot] = process.argv.slice(2);
const fail = (msg) => { console.error("browser test: " + msg); process.exit(1); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  // The page's Content-Security-Policy forbids eval, which playwright's waits use: bypass it for the test only.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("server-info").textContent.includes("indexes"));

  const cardsFor = async (min) => {
    await page.waitForFunction((n) => document.querySelectorAll("#results .card").length >= n, min);
    await page.waitForFunction(() => [...document.querySelectorAll("#results .card img")].every((i) => i.complete && i.naturalWidth > 0));
    return page.$$eval("#results .card", (cs) => cs.map((c) => ({ id: c.dataset.objectId, text: c.textContent })));
  };

  // 1. By object id, image -> image.
  await page.fill("#object-id", queryId);
  await page.fill("#k", "8");
  await page.click("#search-btn");
  const byImage = await cardsFor(9);
  if (byImage[0].id !== queryId) fail("the query is not the first card");
  if (!(await page.textContent("#status")).includes("embedding_image")) fail("status: " + (await page.textContent("#status")));
  // The sky plot (Vega-Lite): one point per result with a position, axis titles with units.
  await page.waitForFunction(() => document.querySelectorAll("#skyplot svg .role-mark path").length >= 8);
  const skyAxes = await page.$$eval("#skyplot .role-axis-title text", (t) => t.map((x) => x.textContent));
  if (!skyAxes.includes("RA (deg)") || !skyAxes.includes("Dec (deg)")) fail("sky plot axes: " + skyAxes.join(", "));

  // 2. The toggle: image -> spectrum searches the spectrum index.
  await page.check("#mode-spectrum");
  await page.click("#search-btn");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("embedding_spectrum"));
  const bySpectrum = await cardsFor(9);
  if (JSON.stringify(bySpectrum.map((c) => c.id)) === JSON.stringify(byImage.map((c) => c.id))) fail("image->spectrum gave the image results");

  // 3. Metadata of a neighbour.
  await page.click("#results .card:nth-child(2) a.id");
  await page.waitForFunction(() => document.getElementById("meta-panel").textContent.includes("found_in"));

  // 4. A cone around the query: every hit inside.
  const meta = JSON.parse(await page.textContent("#meta-panel"));
  await page.check("#mode-image");
  await page.check("#use-cone");
  await page.fill("#cone-ra", String(meta.ra));
  await page.fill("#cone-dec", String(meta.dec));
  await page.fill("#cone-radius", "0.3");
  const coned = await page.evaluate(async () => {
    const done = new Promise((res) => {
      const orig = window.fetch;
      window.fetch = async (...a) => {
        const r = await orig(...a);
        if (String(a[0]).startsWith("/v1/search")) r.clone().json().then(res);
        return r;
      };
    });
    document.getElementById("search-btn").click();
    return done;
  });
  const sep = (a, b, c, d) => {
    const r = Math.PI / 180;
    const x = Math.sin(b * r) * Math.sin(d * r) + Math.cos(b * r) * Math.cos(d * r) * Math.cos((a - c) * r);
    return Math.acos(Math.min(1, x)) / r;
  };
  if (!coned.hits) fail("cone search failed: " + JSON.stringify(coned));
  for (const h of coned.hits) if (sep(meta.ra, meta.dec, h.ra, h.dec) > 0.3 + 1e-9) fail("a hit outside the cone");

  // 5. Upload a cutout (.npy) instead of an id.
  await page.uncheck("#use-cone");
  await page.fill("#object-id", "");
  await page.fill("#bands", "DES-G,DES-R,DES-Z");
  await page.setInputFiles("#upload", upload);
  await page.click("#search-btn");
  await page.waitForFunction(() => /neighbours in/.test(document.getElementById("status").textContent) &&
                                   !document.getElementById("status").className);
  const byUpload = await cardsFor(8);
  if (byUpload[0].id !== queryId) fail("the uploaded image's nearest neighbour is not itself: " + byUpload[0].id);

  // Back to the id search for the picture.
  await page.fill("#object-id", queryId);
  await page.click("#search-btn");
  await cardsFor(9);
  await page.click("#results .card:nth-child(2) a.id");
  await page.waitForFunction(() => document.getElementById("meta-panel").textContent.includes("found_in"));
  await page.screenshot({ path: shot, fullPage: true });

  // 6. Discovery: the most unusual objects of the image index.
  await page.click("#view-discover");
  if (!(await page.isHidden("#search-view"))) fail("the search view is still shown in the discovery view");
  await page.selectOption("#disc-index", "sim-images");
  await page.fill("#disc-k", "12");
  await page.click("#disc-anomalies");
  const discCards = async (min) => {
    await page.waitForFunction((n) => document.querySelectorAll("#disc-results .card").length >= n, min);
    await page.waitForFunction(() => [...document.querySelectorAll("#disc-results .card img")].every((i) => i.complete && i.naturalWidth > 0));
    return page.$$eval("#disc-results .card", (cs) => cs.map((c) => c.dataset.objectId));
  };
  const unusual = await discCards(12);
  if (!(await page.textContent("#disc-status")).includes("most unusual")) fail("discovery status: " + (await page.textContent("#disc-status")));
  // One key per label: y on the first (focus moves on), n on the second.
  await page.focus("#disc-results .card:nth-child(1)");
  await page.keyboard.press("y");
  await page.keyboard.press("n");
  const progress = await page.textContent("#disc-progress");
  if (!progress.includes("1 interesting") || !progress.includes("1 not")) fail("labels by key: " + progress);
  // A round: more like the interesting one; the labelled objects are not shown again.
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("disc-status").textContent.startsWith("round 1"));
  const round1 = await discCards(12);
  if (round1.includes(unusual[0]) || round1.includes(unusual[1])) fail("a labelled object came back in round 1");
  // Export: the CSV holds both labels.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#disc-export")]);
  const csv = readFileSync(await download.path(), "utf8");
  if (!csv.startsWith("object_id,label\n") || !csv.includes(`${unusual[0]},1`) || !csv.includes(`${unusual[1]},0`)) fail("exported labels: " + csv);
  // Import: labels from a file join those of the page.
  const labelsFile = shot.replace(/\.png$/, "") + "-labels.csv";
  writeFileSync(labelsFile, `object_id,label\n${round1[0]},yes\n${round1[1]},no\n`);
  await page.setInputFiles("#disc-import", labelsFile);
  await page.waitForFunction(() => document.getElementById("disc-progress").textContent.includes("4 labelled"));
  await page.click("#disc-more");
  await page.waitForFunction(() => document.getElementById("disc-status").textContent.startsWith("round 2"));
  await discCards(12);
  if (discShot) await page.screenshot({ path: discShot, fullPage: true });

  // 7. Under the page's own Content-Security-Policy (no bypass): the sky plot draws, nothing is refused.
  const strict = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const sp = await strict.newPage();
  const cspErrors = [];
  sp.on("console", (m) => { if (m.type() === "error") cspErrors.push(m.text()); });
  sp.on("pageerror", (e) => cspErrors.push(e.message));
  await sp.goto(url, { waitUntil: "load" });
  await sp.waitForSelector("#index option", { state: "attached" });
  await sp.fill("#object-id", queryId);
  await sp.click("#search-btn");
  await sp.waitForSelector("#skyplot svg .role-mark path", { timeout: 20000 });
  if (cspErrors.length) fail("under the page's CSP: " + cspErrors.join("; "));
  await strict.close();
  if (errors.length) fail("page errors: " + errors.join("; "));
  console.log(`browser test: ok (${byImage.length - 1} image neighbours, ${bySpectrum.length - 1} spectrum neighbours, ` +
              `${coned.hits.length} in the cone, upload found itself; discovery: anomalies, 2 rounds, labels exported and imported); ` +
              `screenshots ${shot} ${discShot || ""}`);
} finally {
  await browser.close();
}
