// Every figure of an astrofm report (probe, photoz, generate, codec eval,
// discover) as a PNG file, for papers, READMEs and slides: the report is
// opened from disk in headless Chromium and each Vega view renders itself
// (view.toImageURL), at 2x scale.
//   node scripts/report-png.mjs REPORT_DIR OUT_DIR
// Needs Debian's chromium and playwright-core (`npm ci` in tests/web).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(resolve(here, "../tests/web/node_modules/playwright-core/index.mjs"));
const [report, out] = process.argv.slice(2);
if (!report || !out) { console.error("usage: node scripts/report-png.mjs REPORT_DIR OUT_DIR"); process.exit(2); }
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
                                        args: ["--headless", "--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage();
  await page.goto("file://" + resolve(report) + "/index.html", { waitUntil: "load" });
  const n = await page.$$eval("div.vega", (d) => d.length);
  await page.waitForFunction((k) => (window.astrofmViews || []).filter(Boolean).length === k, n, { timeout: 30000 });
  const pngs = await page.evaluate(() => Promise.all(window.astrofmViews.map((v) => v.toImageURL("png", 2))));
  const titles = await page.$$eval("div.vega", (ds) => ds.map((d) => (d.querySelector(".role-title-text") || {}).textContent || ""));
  mkdirSync(out, { recursive: true });
  pngs.forEach((url, i) => {
    const name = `${String(i + 1).padStart(2, "0")}-${titles[i].toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "figure"}.png`;
    writeFileSync(resolve(out, name), Buffer.from(url.split(",")[1], "base64"));
    console.log(resolve(out, name));
  });
} finally {
  await browser.close();
}
