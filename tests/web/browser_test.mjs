// End to end: astrofm serve's web page in headless Chromium (Debian's, through
// playwright-core): search by id, the image->spectrum toggle, the cone filter,
// an upload, metadata, the sky plot; a screenshot at the end.
//   node browser_test.mjs URL QUERY_ID UPLOAD.npy SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, queryId, upload, shot] = process.argv.slice(2);
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
  const skyInk = await page.$eval("#skyplot", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  if (skyInk < 200) fail("the sky plot is empty");

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
  if (errors.length) fail("page errors: " + errors.join("; "));
  console.log(`browser test: ok (${byImage.length - 1} image neighbours, ${bySpectrum.length - 1} spectrum neighbours, ` +
              `${coned.hits.length} in the cone, upload found itself); screenshot ${shot}`);
} finally {
  await browser.close();
}
