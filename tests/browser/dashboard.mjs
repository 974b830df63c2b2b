#!/usr/bin/env node
// Drives `kubectl fledge dashboard` in headless Chromium (Debian's, through playwright-core; no
// browser download) the way a person would, and takes the screenshots for the docs.
//
//   node tests/browser/dashboard.mjs --url URL --canary NS/NAME --scenario release|rollback --screenshots DIR
//
//   release:  the list shows the Canary; its detail page follows the weight live without a
//             reload; Promote (confirmed in the dialog) takes it to Succeeded.
//   rollback: the detail page reaches Failed and shows a failing metric with its last value
//             and threshold.
//
// Exit 0 on success; 1 with what it waited for and what it saw. Console errors on the page and
// requests to any host but 127.0.0.1 fail the run too.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const USAGE = 'usage: node tests/browser/dashboard.mjs --url URL --canary NS/NAME --scenario release|rollback --screenshots DIR';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${USAGE}`);
    const [k, inline] = a.slice(2).split(/=(.*)/s);
    const v = inline !== undefined ? inline : argv[++i];
    if (v === undefined) throw new Error(`--${k} needs a value\n${USAGE}`);
    args[k] = v;
  }
  for (const k of ['url', 'canary', 'scenario', 'screenshots']) {
    if (!args[k]) throw new Error(`missing --${k}\n${USAGE}`);
  }
  if (!['release', 'rollback'].includes(args.scenario)) throw new Error(`unknown --scenario ${args.scenario}\n${USAGE}`);
  const m = args.canary.match(/^([^/]+)\/([^/]+)$/);
  if (!m) throw new Error(`--canary must be NS/NAME, got ${args.canary}`);
  return { ...args, ns: m[1], name: m[2] };
}

const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${msg}`);

// The page at URL with its hash replaced by `hash`.
function withHash(url, hash) {
  const u = new URL(url);
  u.hash = hash;
  return u.toString();
}

// A failure that says what was awaited; main() adds what the page showed.
class Failure extends Error {}

async function text(page, testid) {
  return page.evaluate((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    return el ? el.textContent.trim() : null;
  }, testid);
}

// Polls fn in the page until it returns something truthy; fails with `what` after timeout ms.
async function waitFor(page, what, timeout, fn, arg) {
  log(`waiting (up to ${timeout / 1000} s) for ${what}`);
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 250 });
    const value = await handle.jsonValue();
    await handle.dispose();
    return value;
  } catch (err) {
    if (err.name === 'TimeoutError') throw new Failure(`timed out after ${timeout / 1000} s waiting for ${what}`);
    throw err;
  }
}

// Run in the page (functions, not strings: a strict Content-Security-Policy forbids eval).
// The weight text: with `not` null, once it is a percentage above 0; else once it is any
// percentage other than `not`.
const weightMoved = (not) => {
  const el = document.querySelector('[data-testid="weight"]');
  const t = el ? el.textContent.trim() : '';
  const m = t.match(/^(\d+)%$/);
  if (!m) return null;
  return (not === null ? Number(m[1]) > 0 : t !== not) ? t : null;
};

// Run in the page with the wanted phase as its argument.
const phaseIs = (p) => {
  const el = document.querySelector('[data-testid="phase"]');
  return el && el.textContent.trim() === p ? p : null;
};

// Run in the page: what looks broken on the detail page, as a list of sentences (empty when
// all is well). Charts must be drawn at their box's pixel size (their text not scaled up in a
// wide card, nor the chart blown up in height); nothing inside the page may be cut off by a box
// that hides or scrolls its overflow (the Spec <pre> excepted: it scrolls on purpose); the
// page may not scroll sideways; a disabled action must not look like the enabled primary one.
const layoutProblems = () => {
  const out = [];
  const desc = (el) => el.getAttribute('data-testid') || [el.tagName.toLowerCase(), ...el.classList].join('.') +
    ` in "${(el.closest('section') && el.closest('section').getAttribute('aria-label')) || '?'}"`;
  for (const svg of document.querySelectorAll('svg.chart')) {
    const r = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    const figure = svg.closest('figure');
    const name = figure ? desc(figure) : 'a chart';
    if (r.height > 260) out.push(`${name} is ${Math.round(r.height)} px tall`);
    if (vb && vb.width > 0 && Math.abs(r.width / vb.width - 1) > 0.1) {
      out.push(`${name} is scaled ${(r.width / vb.width).toFixed(2)}x (its text with it)`);
    }
  }
  for (const el of document.querySelectorAll('#main *')) {
    if (el.tagName === 'PRE' || el.closest('svg')) continue;
    const cs = getComputedStyle(el);
    if (cs.overflowY === 'visible' && cs.overflowX === 'visible') continue;
    if (el.scrollHeight > el.clientHeight + 1) out.push(`${desc(el)} cuts off ${el.scrollHeight - el.clientHeight} px at the bottom`);
  }
  if (document.documentElement.scrollWidth > innerWidth + 1) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
  const primary = document.querySelector('[data-testid="confirm-yes"]');
  for (const btn of document.querySelectorAll('button[data-testid^="action-"]:disabled')) {
    if (primary && getComputedStyle(btn).backgroundColor === getComputedStyle(primary).backgroundColor) {
      out.push(`disabled ${btn.getAttribute('data-testid')} has the enabled primary button's background`);
    }
  }
  return out;
};

async function checkLayout(page, where) {
  const problems = await page.evaluate(layoutProblems);
  if (problems.length) throw new Failure(`${where}: the page looks broken:\n  ${problems.join('\n  ')}`);
}

async function release(page, args) {
  const { ns, name, screenshots } = args;
  await page.goto(withHash(args.url, '#/'));
  const row = page.locator(`[data-testid="canary-row"][data-name="${name}"][data-namespace="${ns}"]`);
  log(`waiting for the list row of ${ns}/${name}`);
  await row.waitFor({ timeout: 60_000 }).catch(() => { throw new Failure(`no list row for ${ns}/${name} within 60 s`); });
  log(`list row: ${(await row.innerText()).replace(/\s+/g, ' ')}`);
  await page.screenshot({ path: path.join(screenshots, 'dashboard-list.png') });

  await row.locator('a').first().click();
  await page.waitForURL((u) => u.hash === `#/${ns}/${name}`, { timeout: 10_000 });
  await page.locator('[data-testid="phase"]').waitFor({ timeout: 30_000 });
  // A full reload would drop this; it must still be there at the end.
  await page.evaluate(() => { window.__fledgeNoReload = true; });

  const first = await waitFor(page, 'a canary weight above 0%', 90_000, weightMoved, null);
  log(`weight ${first}, phase ${await text(page, 'phase')}`);
  const second = await waitFor(page, `the weight to move from ${first}`, 90_000, weightMoved, first);
  log(`weight ${second}, phase ${await text(page, 'phase')}`);
  if (await page.evaluate(() => window.__fledgeNoReload) !== true) {
    throw new Failure('the page reloaded to show the new weight (window.__fledgeNoReload is gone)');
  }
  // The step is the server's ("2 of 5"), shown while the release runs.
  const step = await text(page, 'step');
  if (!/^\d+ of [1-9]\d*$/.test(step || '')) throw new Failure(`the step is not shown as "i of n": ${JSON.stringify(step)}`);
  await checkLayout(page, 'during the release');
  await page.screenshot({ path: path.join(screenshots, 'dashboard-release.png'), fullPage: true });

  log('promoting through the dialog');
  const promote = page.locator('[data-testid="action-promote"]');
  await promote.click({ timeout: 30_000 }).catch(async (err) => {
    const why = await text(page, 'why-promote');
    throw new Failure(`could not click Promote (${why ? `disabled: ${why}` : err.message.split('\n')[0]})`);
  });
  const dialog = page.locator('[data-testid="confirm"]');
  await dialog.waitFor({ state: 'visible', timeout: 5_000 });
  await dialog.locator('[data-testid="confirm-yes"]').click();
  // Succeeded, or the server's refusal in the status line (no point waiting 120 s for that).
  const outcome = await waitFor(page, 'phase Succeeded after the promotion', 120_000, () => {
    const phase = document.querySelector('[data-testid="phase"]');
    const result = document.querySelector('[data-testid="action-result"]');
    if (phase && phase.textContent.trim() === 'Succeeded') return 'Succeeded';
    if (result && result.classList.contains('error')) return `refused: ${result.textContent.trim()}`;
    return null;
  });
  if (outcome !== 'Succeeded') throw new Failure(`Promote was ${outcome}`);
  log(`phase ${await text(page, 'phase')}; action result: ${await text(page, 'action-result')}`);
  if (await page.evaluate(() => window.__fledgeNoReload) !== true) {
    throw new Failure('the page reloaded during the promotion (window.__fledgeNoReload is gone)');
  }
}

async function rollback(page, args) {
  const { ns, name, screenshots } = args;
  await page.goto(withHash(args.url, `#/${ns}/${name}`));
  await waitFor(page, 'phase Failed', 180_000, phaseIs, 'Failed');
  const chart = page.locator('[data-testid^="metric-"][data-verdict="Fail"]').first();
  await chart.waitFor({ timeout: 10_000 }).catch(() => { throw new Failure('phase is Failed but no metric chart has data-verdict="Fail"'); });
  const id = await chart.getAttribute('data-testid');
  const caption = (await chart.locator('figcaption').innerText()).replace(/\s+/g, ' ');
  log(`${id}: ${caption}`);
  if (!/[≥≤]\s*-?\d/.test(caption)) throw new Failure(`${id} does not show its threshold (≥/≤ and a number): "${caption}"`);
  if (!/last\s+-?\d/.test(caption)) throw new Failure(`${id} does not show its last value ("last N"): "${caption}"`);
  if (!/failing/.test(caption)) throw new Failure(`${id} does not say "failing" in words: "${caption}"`);
  // Promote makes no sense once Failed: disabled, with the server's reason beside it.
  if (!(await page.locator('[data-testid="action-promote"]').isDisabled())) throw new Failure('Promote is enabled in phase Failed');
  if (!(await text(page, 'why-promote'))) throw new Failure('Promote is disabled in phase Failed without its reason');
  await checkLayout(page, 'after the rollback');
  await page.screenshot({ path: path.join(screenshots, 'dashboard-rollback.png'), fullPage: true });
}

async function main() {
  let args;
  try { args = parseArgs(process.argv.slice(2)); } catch (err) { console.error(err.message); return 2; }
  fs.mkdirSync(args.screenshots, { recursive: true });

  const consoleErrors = [];
  const foreign = [];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
  });
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return;
      if (u.hostname !== '127.0.0.1') foreign.push(r.url());
    });

    await (args.scenario === 'release' ? release : rollback)(page, args);

    if (foreign.length) throw new Failure(`the page made requests outside 127.0.0.1: ${foreign.join(', ')}`);
    if (consoleErrors.length) throw new Failure(`the page logged console errors:\n  ${consoleErrors.join('\n  ')}`);
    log(`${args.scenario}: OK, screenshots in ${args.screenshots}`);
    return 0;
  } catch (err) {
    console.error(`FAIL ${args.scenario} ${args.canary}: ${err instanceof Failure ? err.message : err.stack || err}`);
    if (page && !page.isClosed()) {
      const seen = await page.evaluate(() => {
        const t = (id) => { const el = document.querySelector(`[data-testid="${id}"]`); return el ? el.textContent.trim() : '(none)'; };
        return { url: location.href.replace(/token=[^&#]*/, 'token=…'), phase: t('phase'), weight: t('weight'),
          live: t('live'), message: t('message'), actionResult: t('action-result') };
      }).catch(() => null);
      if (seen) console.error(`  saw: ${JSON.stringify(seen)}`);
      const shot = path.join(args.screenshots, `dashboard-${args.scenario}-failure.png`);
      await page.screenshot({ path: shot, fullPage: true }).then(() => console.error(`  screenshot: ${shot}`), () => {});
    }
    if (consoleErrors.length) console.error(`  console errors:\n    ${consoleErrors.join('\n    ')}`);
    if (foreign.length) console.error(`  requests outside 127.0.0.1: ${foreign.join(', ')}`);
    return 1;
  } finally {
    await browser.close();
  }
}

process.exitCode = await main();
