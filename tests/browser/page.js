// page.js URL SERVICE SHOTDIR - pttd's status page in headless Debian
// Chromium driven by playwright-core: every service shows healthy; after
// SIGKILL of SERVICE (its pid read from the page) it shows restarting,
// then healthy again with one more restart. Prints "PASS name" or
// "FAIL name" lines for browser.sh to turn into TAP.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const [url, victim, shots] = process.argv.slice(2);
const say = (ok, name) => console.log((ok ? "PASS " : "FAIL ") + name);
const sleep = ms => new Promise(r => setTimeout(r, ms));

(async () => {
  const profile = fs.mkdtempSync(shots + "/profile-");
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
      // The page polls every second: no throttling of its timers in headless mode.
      "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows"],
    viewport: { width: 390, height: 844 },	// a phone
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on("pageerror", e => errors.push(e.message));
  // Read the page from here every 200 ms until check() is true.
  const until = async (check, ms) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(200))
      if (await check()) return true;
    return false;
  };
  const states = () => page.$$eval(".svc", cs => cs.map(c => [c.id.slice(4), c.dataset.state]));
  const card = "#svc-" + victim;
  const field = f => page.textContent(card + " .f-" + f);
  try {
    await page.goto(url);
    say(await page.title() === "ptt status", "the page loads (title \"ptt status\")");
    let ok = await until(async () => {
      const s = await states();
      return s.length >= 4 && s.every(x => x[1] === "healthy");
    }, 60000);
    say(ok, "every service shows healthy: " + (await states()).map(x => x.join("=")).join(" "));
    const summary = await page.textContent("#summary");
    say(/4 of 4 services healthy/.test(summary), "the summary says so: " + summary);
    const narrow = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    say(narrow, "it fits a phone's width (390 px) without sideways scrolling");
    await page.screenshot({ path: shots + "/healthy.png", fullPage: true });

    const pid = parseInt(((await field("uptime")).match(/pid (\d+)/) || [])[1], 10);
    const restarts = parseInt(await field("restarts"), 10);
    say(pid > 0, victim + " shows its pid (" + pid + ") and restarts (" + restarts + ")");
    process.kill(pid, "SIGKILL");
    ok = await until(async () => await page.getAttribute(card, "data-state") === "restarting", 20000);
    say(ok, victim + " shows restarting after SIGKILL (last exit: " + await field("last-exit") + ")");
    ok = await until(async () => await page.getAttribute(card, "data-state") === "healthy" &&
      parseInt(await field("restarts"), 10) === restarts + 1 &&
      !(await field("uptime")).includes("pid " + pid + ")"), 60000);
    say(ok, victim + " shows healthy again, one restart more, a new pid: " + await field("uptime"));
    await page.screenshot({ path: shots + "/healthy-again.png", fullPage: true });
    say(errors.length === 0, "no JavaScript errors" + (errors.length ? ": " + errors.join("; ") : ""));
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch(e => { console.log("FAIL the browser run: " + e.message.split("\n")[0]); process.exit(1); });
