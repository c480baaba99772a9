// Drives Debian's chromium to the console's Meta Lead Ads panel: log in, wait for the panel
// (shown once reconciliation has run), read its state and its per-form, per-day rows.
//   node meta.mjs <inlet url> <console token>
// Prints one JSON line with what it saw; the Rust test (cli/tests/meta.rs) checks it.
import { chromium } from "playwright-core";

const [inlet, token] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const result = { scriptErrors: [] };
try {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => result.scriptErrors.push(e.message));
  await page.goto(`${inlet}/console`);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("body[data-loaded=yes]", { timeout: 15000 });
  await page.waitForSelector("#meta:not([hidden]) #meta-forms tbody tr", { timeout: 15000 });
  result.status = await page.textContent("#meta-status");
  result.why = await page.textContent("#meta-why");
  result.webhooks = await page.textContent("#meta-webhooks");
  result.rows = await page.locator("#meta-forms tbody tr").count();
  result.firstRow = await page.locator("#meta-forms tbody tr").first().textContent();
  result.error = await page.textContent("#error");
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
