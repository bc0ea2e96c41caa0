// Every report kind opened from disk (file://, offline) in headless Chromium:
// each Vega-Lite figure must render (an SVG with its axis titles), with no
// console error and no request leaving the folder.
//   node report_test.mjs SCREENSHOT_DIR REPORT_DIR...
import { chromium } from "playwright-core";
import { basename, resolve } from "node:path";

const [shots, ...reports] = process.argv.slice(2);
const fail = (msg) => { console.error("report test: " + msg); process.exit(1); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
let figures = 0;
try {
  for (const dir of reports) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("request", (r) => { if (!r.url().startsWith("file://")) errors.push("a request off the disk: " + r.url()); });
    await page.goto("file://" + resolve(dir) + "/index.html", { waitUntil: "load" });
    const n = await page.$$eval("div.vega", (d) => d.length);
    if (n === 0) fail(`${dir}: no figures`);
    await page.waitForFunction((k) => document.querySelectorAll("div.vega svg.marks").length === k, n, { timeout: 30000 })
      .catch(() => fail(`${dir}: ${n} figures, not all drawn`));
    const info = await page.$$eval("div.vega", (ds) => ds.map((d) => ({
      title: (d.querySelector(".role-title-text") || {}).textContent || "",
      axes: [...d.querySelectorAll(".role-axis-title text")].map((t) => t.textContent),
      marks: d.querySelectorAll(".role-mark path, .role-mark rect, .role-mark line, .role-mark text").length,
      menu: !!d.querySelector("details summary"),
    })));
    for (const [i, f] of info.entries()) {
      if (!f.title) fail(`${dir}: figure ${i} has no title`);
      if (f.axes.length < 1 && !/Confusion/.test(f.title)) fail(`${dir}: figure ${i} (${f.title}) has no axis titles`);
      if (f.marks < 1) fail(`${dir}: figure ${i} (${f.title}) draws nothing`);
      if (!f.menu) fail(`${dir}: figure ${i} (${f.title}) has no export menu`);
    }
    if (errors.length) fail(`${dir}: ${errors.join("; ")}`);
    await page.screenshot({ path: `${shots}/report-${basename(dir)}.png`, fullPage: true });
    figures += n;
    console.log(`report test: ${dir}: ${n} figures (${info.map((f) => f.title).join(" | ")})`);
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(`report test: ok (${reports.length} reports, ${figures} figures)`);
