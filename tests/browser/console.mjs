// Drives Debian's chromium through Inlet's console: log in with the form, see the dead
// letter, the kept mail and the envelopes render, release the dead letter, release the kept
// mail into a lead channel typed in, and find a lead by its email.
//   node console.mjs <inlet url> <console token> <artifacts dir> <lead channel> <email to find>
// Prints one JSON line with what it saw; the Rust test checks what reached Rechat.
import { chromium } from "playwright-core";

const [inlet, token, artifacts, channel, findEmail] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const result = { cspViolations: 0 };
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) result.cspViolations += 1;
  });
  await page.goto(`${inlet}/console`);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("body[data-loaded=yes]", { timeout: 15000 });
  await page.waitForSelector("#dead-letters tbody tr", { timeout: 15000 });
  result.deadRowsBefore = await page.locator("#dead-letters tbody tr").count();
  result.deadRowText = await page.locator("#dead-letters tbody tr").first().textContent();
  result.leadRows = await page.locator("#leads tbody tr").count();
  result.status = await page.textContent("#delivery-status");
  await page.screenshot({ path: `${artifacts}/console-before.png`, fullPage: true });
  // The cookie is HttpOnly: the page's script cannot read it.
  result.cookieVisibleToScript = await page.evaluate(() => document.cookie.includes("inlet_console"));
  await page.click("#dead-letters button.release");
  await page.waitForFunction(() => document.querySelectorAll("#dead-letters tbody tr").length === 0, null, { timeout: 15000 });
  result.deadRowsAfter = await page.locator("#dead-letters tbody tr").count();

  // The kept mail: its row says who and what; released without a channel it is refused
  // with why, then released into the channel typed in.
  await page.waitForSelector("#kept tbody tr", { timeout: 15000 });
  result.keptRowsBefore = await page.locator("#kept tbody tr").count();
  result.keptRowText = await page.locator("#kept tbody tr").first().textContent();
  await page.click("#kept button.release");
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 15000 });
  result.releaseWithoutChannel = await page.textContent("#error");
  await page.fill("#kept input.channel", channel);
  await page.click("#kept button.release");
  await page.waitForFunction(() => document.querySelectorAll("#kept tbody tr").length === 0, null, { timeout: 15000 });
  result.keptRowsAfter = await page.locator("#kept tbody tr").count();
  result.error = await page.textContent("#error");

  // Search by email: the ledger holds only its digest.
  await page.fill("#q", findEmail);
  await page.click("#search button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#leads tbody tr").length === 1, null, { timeout: 15000 });
  result.foundRows = await page.locator("#leads tbody tr").count();
  await page.fill("#q", "nobody.at.all@example.com");
  await page.click("#search button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#leads tbody tr").length === 0, null, { timeout: 15000 });
  result.notFoundRows = await page.locator("#leads tbody tr").count();
  await page.screenshot({ path: `${artifacts}/console-after.png`, fullPage: true });
  await context.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
