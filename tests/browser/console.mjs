// Drives Debian's chromium through Inlet's console: a wrong token says so on the login page;
// log in with the form, see the header say "needs attention" for a lead Rechat refused,
// the dead letter, the kept mail and the envelopes render; correct the refused lead and
// send it; release the kept mail into a lead channel typed in; find a lead by its email and
// by the id the API answered; a search that finds nothing says so; the page fits a phone.
//   node console.mjs <inlet url> <console token> <artifacts dir> <lead channel> <email to find> run <id to find>
//   node console.mjs <inlet url> <console token> <artifacts dir> - - shot <name>
// The second logs in and takes the page's picture as it is (<name>.png, and at a phone's
// width <name>-390.png), printing the header's state.
// Prints one JSON line with what it saw; the Rust test checks what reached Rechat.
import { chromium } from "playwright-core";

const [inlet, token, artifacts, channel, findEmail, mode, findId] = process.argv.slice(2);
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
  result.pageErrors = [];
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  page.on("dialog", (d) => d.accept());
  await page.goto(`${inlet}/console`);
  if (mode === "shot") {
    await page.fill("#token", token);
    await page.click("button[type=submit]");
    await page.waitForSelector("body[data-loaded=yes]", { timeout: 30000 });
    result.state = await page.textContent("#state");
    await page.screenshot({ path: `${artifacts}/${findId}.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${artifacts}/${findId}-390.png`, fullPage: true });
    await context.close();
    console.log(JSON.stringify(result));
    process.exit(0);
  }
  // A wrong token: the login page again, saying so.
  await page.fill("#token", "not-the-console-token-at-all");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => (document.getElementById("login-error")?.textContent || "").trim().length > 0, null, { timeout: 30000 });
  result.loginError = await page.textContent("#login-error");
  await page.screenshot({ path: `${artifacts}/console-login-error.png`, fullPage: true });
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("body[data-loaded=yes]", { timeout: 30000 }).catch(async (e) => {
    const shown = await page.textContent("#error").catch(() => null);
    throw new Error(`the console did not load: ${e.message}; #error: ${shown}; page errors: ${result.pageErrors.join(" | ")}`);
  });
  result.headerBefore = await page.textContent("#state");
  result.stateBefore = await page.getAttribute("body", "data-state");
  await page.waitForSelector("#dead-letters tbody tr", { timeout: 30000 });
  result.deadRowsBefore = await page.locator("#dead-letters tbody tr").count();
  result.deadRowText = await page.locator("#dead-letters tbody tr").first().textContent();
  result.leadRows = await page.locator("#leads tbody tr").count();
  result.status = await page.textContent("#delivery-status");
  await page.screenshot({ path: `${artifacts}/console-before.png`, fullPage: true });
  // The cookie is HttpOnly: the page's script cannot read it.
  result.cookieVisibleToScript = await page.evaluate(() => document.cookie.includes("inlet_console"));
  // The refused lead: corrected in place and sent; the header is ok again.
  result.deadReleaseLabel = await page.textContent("#dead-letters button.release");
  await page.click("#dead-letters summary.correct");
  await page.fill("#dead-letters form.correct input[name=email]", `fixed.${findEmail}`);
  await page.click("#dead-letters form.correct button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#dead-letters tbody tr").length === 0, null, { timeout: 30000 });
  result.deadRowsAfter = await page.locator("#dead-letters tbody tr").count();
  await page.waitForFunction(() => document.body.dataset.state === "ok", null, { timeout: 30000 });
  result.headerAfter = await page.textContent("#state");

  // The kept mail: its row says who and what; released without a channel it is refused
  // with why, then released into the channel typed in.
  await page.waitForSelector("#kept tbody tr", { timeout: 30000 });
  result.keptRowsBefore = await page.locator("#kept tbody tr").count();
  result.keptRowText = await page.locator("#kept tbody tr").first().textContent();
  await page.click("#kept button.release");
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 30000 });
  result.releaseWithoutChannel = await page.textContent("#error");
  await page.fill("#kept input.channel", channel);
  await page.click("#kept button.release");
  await page.waitForFunction(() => document.querySelectorAll("#kept tbody tr").length === 0, null, { timeout: 30000 });
  result.keptRowsAfter = await page.locator("#kept tbody tr").count();
  result.error = await page.textContent("#error");

  // Search by email: the ledger holds only its digest.
  await page.fill("#q", findEmail);
  await page.click("#search button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#leads tbody tr").length === 1, null, { timeout: 30000 });
  result.foundRows = await page.locator("#leads tbody tr").count();
  // By the id the API answered: the row shows it and the person.
  await page.fill("#q", findId);
  await page.click("#search button[type=submit]");
  await page.waitForFunction((id) => [...document.querySelectorAll("#leads tbody tr")].some((r) => r.textContent.includes(id)), findId, { timeout: 30000 });
  result.idRowText = await page.locator("#leads tbody tr").first().textContent();
  await page.fill("#q", "nobody.at.all@example.com");
  await page.click("#search button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#leads tbody tr").length === 0, null, { timeout: 30000 });
  result.notFoundRows = await page.locator("#leads tbody tr").count();
  result.notFoundText = await page.textContent("#leads-empty");
  await page.screenshot({ path: `${artifacts}/console-after.png`, fullPage: true });
  // A phone's width: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.waitForSelector("body[data-loaded=yes]", { timeout: 30000 });
  result.phoneScrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: `${artifacts}/console-390.png`, fullPage: true });
  await context.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
