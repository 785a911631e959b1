// What the bundle's everyday-page tests do with every page: keep it as a
// screenshot at desktop and phone width and check it (axe-core, sideways
// scrolling); and clicks that wait for the next document.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.mjs';
import { DESKTOP, PHONE, STEP_MS, firstLine } from './person.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

// Keeps the page at both widths and checks it: axe-core finds nothing
// serious, and the phone needs no sideways scrolling.
export class Pages {
  constructor(axeSource) {
    this.axeSource = axeSource;
    this.checked = [];
  }

  static async load() {
    return new Pages(await readFile(AXE, 'utf8'));
  }

  // axe-core's findings on the page, as plain data.
  async findings(page) {
    await page.evaluate(this.axeSource);
    return page.evaluate(async () => {
      const result = await window.axe.run(document, { resultTypes: ['violations'] });
      return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
      }));
    });
  }

  // The checker finds what it should: an image without a text and an
  // unlabelled field are violations (so a clean page means something).
  async selfCheck(page) {
    await page.setContent('<!doctype html><html lang="de"><title>t</title><main><img src="a.png"><input></main></html>');
    const ids = (await this.findings(page)).map((v) => v.id);
    assert.ok(ids.includes('image-alt') && ids.includes('label'), `axe-core finds planted faults: ${ids}`);
  }

  async keep(person, name) {
    const page = person.page;
    await person.shot(`${name}-desktop.png`);
    await page.setViewportSize(PHONE);
    await person.shot(`${name}-phone.png`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${name}: the phone scrolls sideways by ${overflow} px`);
    await page.setViewportSize(DESKTOP);
    const violations = await this.findings(page);
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    this.checked.push({ page: name, url: page.url(), violations });
    assert.deepEqual(serious, [], `${name}: accessibility violations`);
  }
}

// Clicks, waits for the next document to load, and checks that it is at a
// URL matching `where` (the URL before may match too: the navigation itself
// is what is waited for).
export async function clickAndWait(person, selector, where) {
  const page = person.page;
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame(),
    timeout: STEP_MS,
  });
  navigated.catch(() => {});
  await person.click(selector);
  await navigated;
  await page.waitForLoadState('load');
  const at = page.url();
  if (!where.test(at)) {
    const problems = await person.problems();
    assert.fail(`after ${selector}: at ${at}, expected ${where}` + (problems.length ? ` (${problems.join('; ')})` : ''));
  }
}

// The start of a test on the office the onboarding made: its state
// (GUSS_STATE), the artifacts folder emptied of an earlier run's pictures,
// the checker and a browser.
export async function startRun(artifacts) {
  assert.ok(process.env.GUSS_STATE, 'set GUSS_STATE to the state bundle-onboarding.mjs left');
  const state = JSON.parse(await readFile(process.env.GUSS_STATE, 'utf8'));
  await mkdir(artifacts, { recursive: true });
  for (const file of await readdir(artifacts)) {
    if (/\.png$|^summary\.json$/.test(file)) await rm(join(artifacts, file), { force: true });
  }
  const pages = await Pages.load();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: STEP_MS });
  return { state, pages, browser };
}

// Runs a test's steps on the office the onboarding made:
// `body({ state, pages, browser, summary, acting })`, where `acting(person)`
// names who acts now (their page and actions are reported if a step
// fails). summary.json gets the base, the pages kept and checked, and the
// failure; the browser is closed either way.
export async function runOnOffice(artifacts, label, body) {
  const { state, pages, browser } = await startRun(artifacts);
  const summary = { base: state.base };
  let current = null;
  try {
    await body({ state, pages, browser, summary, acting: (person) => { current = person; } });
    console.log(`${label}: ${pages.checked.length} pages kept at two widths and checked with axe-core`);
  } catch (e) {
    if (current) await current.report(firstLine(e));
    summary.failure = firstLine(e);
    throw e;
  } finally {
    summary.pages = pages.checked;
    await writeFile(join(artifacts, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    await browser.close().catch(() => {});
  }
}

// Hands the owner's passkey on to the test that follows: its signature
// counter has moved, and the server refuses a counter that goes back (a
// cloned authenticator).
export async function handOnPasskey(state, owner) {
  state.owner.passkey = await owner.passkey();
  await writeFile(process.env.GUSS_STATE, JSON.stringify(state), { mode: 0o600 });
}
