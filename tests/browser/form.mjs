// Drives Debian's chromium (never a downloaded browser) through Inlet's example form.
//   node form.mjs <inlet url> <other-origin page url> <artifacts dir> <run id>
// Prints one JSON line with what each scenario saw; the Rust test that starts Inlet and the
// Rechat double checks what reached Rechat.
import { chromium } from "playwright-core";

const [inlet, otherPage, artifacts, run] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const result = {};
// The form takes submissions only a few seconds after it was shown (a signed timestamp).
const MIN_FILL_MS = 3300;

async function fill(page, who) {
  await page.fill("#name", `Browser ${who}`);
  await page.fill("#email", `${who}-${run}@example.com`);
  await page.fill("#phone", "512-555-0123");
  await page.fill("#message", `Sent by the ${who} browser test`);
}

try {
  // JavaScript on: in-page submit, inline thank-you.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${inlet}/forms/demo?utm_source=browser&utm_campaign=js`);
    await page.waitForFunction(() => document.querySelector('input[name="_inlet_ts"]')?.value);
    await fill(page, "js");
    await page.waitForTimeout(MIN_FILL_MS);
    await page.click("button[type=submit]");
    await page.waitForSelector("#thank-you", { timeout: 10000 });
    result.js = { thankYou: await page.textContent("#thank-you"), url: page.url() };
    await page.screenshot({ path: `${artifacts}/thank-you-js.png`, fullPage: true });
    await context.close();
  }
  // JavaScript off: the browser posts the form; Inlet answers with its thank-you page.
  {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${inlet}/forms/demo?utm_source=nojs`);
    await fill(page, "nojs");
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    result.nojs = { thankYou: await page.textContent("#thank-you"), url: page.url() };
    await page.screenshot({ path: `${artifacts}/thank-you-nojs.png`, fullPage: true });
    await context.close();
  }
  // A bot fills the honeypot: it sees a thank-you like anyone, and reaches no one.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${inlet}/forms/demo`);
    await page.waitForFunction(() => document.querySelector('input[name="_inlet_ts"]')?.value);
    await fill(page, "honeypot");
    await page.evaluate(() => { document.querySelector('input[name="_gotcha"]').value = "http://spam.example.net"; });
    await page.waitForTimeout(MIN_FILL_MS);
    await page.click("button[type=submit]");
    await page.waitForSelector("#thank-you", { timeout: 10000 });
    result.honeypot = { thankYou: await page.textContent("#thank-you") };
    await context.close();
  }
  // A page on another origin posts with fetch: the browser's CORS check refuses it.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${otherPage}?inlet=${encodeURIComponent(inlet)}&email=${encodeURIComponent(`crossorigin-${run}@example.com`)}`);
    await page.waitForFunction(() => document.body.dataset.result, null, { timeout: 10000 });
    result.crossOrigin = await page.evaluate(() => document.body.dataset.result);
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
