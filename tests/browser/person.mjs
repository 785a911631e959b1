// One person in one browser context, as the bundle's browser tests drive
// them: a page with its own virtual passkey authenticator, what went wrong
// in it (console, HTTP errors), screenshots, and a count of what the person
// did. Shared by tests/browser/bundle-*.mjs.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { addPasskeyAuthenticator } from './chromium.mjs';

export const STEP_MS = 30_000; // upper bound for every single wait
export const DESKTOP = { width: 1100, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function baseUrl() {
  const raw = process.env.GUSS_BASE_URL;
  assert.ok(raw, 'set GUSS_BASE_URL, e.g. http://localhost:8080');
  const url = new URL(raw);
  assert.equal(url.hostname, 'localhost',
    `GUSS_BASE_URL must use host "localhost" (the WebAuthn RP id), got ${url.hostname}`);
  return url.origin;
}

export const firstLine = (e) => String(e?.message ?? e).split('\n')[0];

export const seconds = (ms) => (ms / 1000).toFixed(1);

// One person at one browser context: a page with its own virtual
// authenticator, diagnostics, screenshots, and the count of what they did.
export class Person {
  constructor(name, context, page, cdp, authenticatorId, artifacts) {
    this.name = name;
    this.artifacts = artifacts;
    this.context = context;
    this.page = page;
    this.cdp = cdp;
    this.authenticatorId = authenticatorId;
    this.log = [];
    this.actions = 0;
    this.actionLog = [];
    this.shotMs = 0; // time spent on screenshots (not the person's)
    this.shots = [];
  }

  static async open(browser, name, artifacts, viewport = DESKTOP) {
    const context = await browser.newContext({ locale: 'de-DE', viewport });
    context.setDefaultTimeout(STEP_MS);
    context.setDefaultNavigationTimeout(STEP_MS);
    const page = await context.newPage();
    const { cdp, authenticatorId } = await addPasskeyAuthenticator(context, page);
    const person = new Person(name, context, page, cdp, authenticatorId, artifacts);
    page.on('console', (m) => {
      if ((m.type() === 'error' || m.type() === 'warning') && !m.location()?.url?.endsWith('/favicon.ico')) {
        person.log.push(`console.${m.type()}: ${m.text()}`);
      }
    });
    page.on('pageerror', (e) => person.log.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => person.log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', async (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) {
        const request = r.request();
        let line = `http ${r.status()}: ${request.method()} ${r.url()}`;
        if (request.method() !== 'GET') {
          // The server checks a form's Origin: say which one the browser sent.
          const origin = await request.headerValue('origin').catch(() => undefined);
          const site = await request.headerValue('sec-fetch-site').catch(() => undefined);
          line += ` (request Origin: ${JSON.stringify(origin ?? null)}, Sec-Fetch-Site: ${site ?? '-'})`;
        }
        person.log.push(line);
      }
    });
    return person;
  }

  // A person whose authenticator already holds `credential` (a passkey
  // made in an earlier run: CDP's export carries the private key).
  static async withPasskey(browser, name, artifacts, credential, viewport = DESKTOP) {
    const person = await Person.open(browser, name, artifacts, viewport);
    await person.cdp.send('WebAuthn.addCredential', { authenticatorId: person.authenticatorId, credential });
    return person;
  }

  // The person's one passkey, to hand to a later run.
  async passkey() {
    const creds = await this.credentials();
    assert.equal(creds.length, 1, `${this.name} has exactly one passkey`);
    return creds[0];
  }

  async credentials() {
    return (await this.cdp.send('WebAuthn.getCredentials', { authenticatorId: this.authenticatorId })).credentials;
  }

  path() {
    return new URL(this.page.url()).pathname;
  }

  count(what) {
    this.actions += 1;
    this.actionLog.push(what);
  }

  // --- what the person does (each one counts as an action) ---

  async goto(url) {
    this.count(`goto ${url}`);
    return this.page.goto(url);
  }

  async fill(selector, value) {
    this.count(`fill ${selector}`);
    await this.page.locator(selector).fill(value);
  }

  async check(selector) {
    this.count(`check ${selector}`);
    await this.page.locator(selector).check();
  }

  // Chooses the option with this label; a choice the page already made is
  // only checked, not counted (the person has nothing to do).
  async select(selector, label) {
    const field = this.page.locator(selector);
    const chosen = await field.evaluate((s) => s.selectedOptions[0]?.textContent?.trim() ?? '');
    if (chosen === label) {
      this.actionLog.push(`(${selector} already ${label})`);
      return;
    }
    this.count(`select ${selector}`);
    await field.selectOption({ label });
  }

  // The sign count of the person's single passkey: it grows with every
  // assertion the authenticator makes (sign-in or step-up).
  async signCount() {
    const creds = await this.credentials();
    assert.equal(creds.length, 1, `${this.name} has exactly one passkey`);
    return creds[0].signCount;
  }

  async click(selector) {
    this.count(`click ${selector}`);
    await this.page.locator(selector).click();
  }

  // Clicks and waits until the page is at `path` (a string, or a RegExp on
  // the path name) and loaded. Fails early when the page says the passkey
  // ceremony failed or the server answered with an error page.
  async clickTo(selector, path) {
    const matches = (url) => (typeof path === 'string' ? url.pathname === path : path.test(url.pathname));
    const arrived = this.page.waitForURL(matches, { timeout: STEP_MS, waitUntil: 'load' });
    arrived.catch(() => {});
    await this.click(selector);
    let done = false;
    const failed = (async () => {
      while (!done) {
        await new Promise((r) => setTimeout(r, 200));
        if (done) return;
        const problem = await this.page.evaluate(() => {
          const message = document.querySelector('main p.message');
          if (message) return `error page: ${document.title}: ${message.textContent.trim()}`;
          const status = document.querySelector('#status')?.textContent?.trim() ?? '';
          const { passkeyFailed, stepUpFailed } = document.body?.dataset ?? {};
          if (status && (status === passkeyFailed || status === stepUpFailed)) return `#status: ${status}`;
          return null;
        }).catch(() => null); // mid-navigation
        if (problem && !done) throw new Error(`on the way to ${path}: ${problem} (at ${this.page.url()})`);
      }
    })();
    try {
      await Promise.race([arrived, failed]);
    } finally {
      done = true;
      failed.catch(() => {});
    }
  }

  // Submits a form whose answer comes back on the same path (rendered
  // directly, or after a 303 to the same page): waits for the new document
  // to commit and load, and returns the final (non-redirect) response.
  async submitHere(selector) {
    const main = this.page.mainFrame();
    const committed = this.page.waitForEvent('framenavigated', {
      predicate: (frame) => frame === main,
      timeout: STEP_MS,
    });
    const answered = this.page.waitForResponse(
      (r) => r.request().isNavigationRequest() && r.request().frame() === main &&
        (r.status() < 300 || r.status() >= 400),
      { timeout: STEP_MS },
    );
    // Both waits are armed before the click; a failure of one is reported
    // by the await below, not as an unhandled rejection.
    answered.catch(() => {});
    committed.catch(() => {});
    await this.click(selector);
    const response = await answered;
    await committed;
    await this.page.waitForLoadState('load');
    return { response };
  }

  // --- what the test does ---

  async shot(file) {
    const started = Date.now();
    const path = join(this.artifacts, file);
    await this.page.screenshot({ path, fullPage: true });
    this.shots.push(file);
    this.shotMs += Date.now() - started;
  }

  // The page's own account of a failure: #status, an error paragraph, the
  // message page's alert.
  async problems() {
    return this.page.evaluate(() => {
      const texts = [];
      const status = document.querySelector('#status')?.textContent?.trim();
      if (status) texts.push(`#status: ${status}`);
      for (const e of document.querySelectorAll('.error, .message, [role=alert]')) {
        const text = e.textContent?.trim();
        if (text) texts.push(`${e.className || e.getAttribute('role')}: ${text}`);
      }
      return texts;
    }).catch((e) => [`<page unreadable: ${firstLine(e)}>`]);
  }

  async report(heading) {
    let title = '';
    try { title = await this.page.title(); } catch { /* closed */ }
    console.error(`--- ${this.name}: ${heading}; url = ${this.page.url()}, title = ${JSON.stringify(title)}`);
    for (const p of await this.problems()) console.error(`page says: ${p}`);
    console.error(this.log.length ? this.log.join('\n') : '(no browser console errors or HTTP errors recorded)');
    console.error(`actions so far (${this.actions}): ${this.actionLog.join(' | ')}`);
    console.error('---');
    const file = `failure-${this.name}.png`;
    try {
      await this.page.screenshot({ path: join(this.artifacts, file), fullPage: true });
      console.error(`screenshot of the failure: ${join(this.artifacts, file)}`);
    } catch { /* no page */ }
  }
}

// Asserts the person is at `path` and the page is not an error page.
export async function expectAt(person, path, what) {
  const at = person.path();
  if (at !== path) {
    const problems = await person.problems();
    assert.fail(`${what}: expected ${path}, but the browser is at ${person.page.url()}` +
      (problems.length ? ` (${problems.join('; ')})` : ''));
  }
}

// Runs `body` as one named step, adding the step to any failure.
export async function step(person, name, body) {
  try {
    return await body();
  } catch (e) {
    e.message = `[${person.name}] ${name}: ${e.message}`;
    throw e;
  }
}
