// Browser test for the `passkey-login` example of guss-identity.
//
// Drives Debian's Chromium (/usr/bin/chromium) through playwright-core and a
// CDP virtual WebAuthn authenticator: register a passkey, sign out, then sign
// in again username-less with the discoverable credential.
//
// Usage:   GUSS_BASE_URL=http://localhost:PORT node --test tests/browser/passkey-login.mjs
// (or run scripts/interop/passkey-browser.sh, which builds and starts the server).
//
// The relying-party id is `localhost`, so the base URL must use the host
// `localhost` (not 127.0.0.1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, addPasskeyAuthenticator } from './chromium.mjs';

const WAIT_MS = 20_000; // upper bound for every single wait
const NEGATIVE_WAIT_MS = 5_000; // how long the negative test watches #status
const TEST_TIMEOUT_MS = 120_000; // whole-test bound (node:test)
const USER = process.env.GUSS_TEST_USER || 'anna';
const SIGNED_IN = 'signed in as ';

function baseUrl() {
  const raw = process.env.GUSS_BASE_URL;
  assert.ok(raw, 'set GUSS_BASE_URL, e.g. http://localhost:8080');
  const url = new URL(raw);
  assert.equal(url.hostname, 'localhost',
    `GUSS_BASE_URL must use host "localhost" (the WebAuthn RP id), got ${url.hostname}`);
  return url.origin + '/';
}

// Launches Chromium with a fresh profile, opens a page with a virtual
// authenticator attached, and records diagnostics for failure reports.
async function openBrowser() {
  const profile = await mkdtemp(join(tmpdir(), 'guss-chromium-'));
  const log = [];
  let context;
  try {
    // Playwright owns --user-data-dir: launchPersistentContext passes the
    // profile dir itself (it rejects --user-data-dir inside args).
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: WAIT_MS,
    });
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('status of 404')) log.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) log.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
  });

  const { cdp, authenticatorId } = await addPasskeyAuthenticator(context, page);

  const credentials = async () =>
    (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const close = async () => {
    try { await context.close(); } catch { /* already gone */ }
    await rm(profile, { recursive: true, force: true });
  };
  return { context, page, cdp, authenticatorId, credentials, log, close };
}

async function statusText(page) {
  try {
    return ((await page.locator('#status').textContent({ timeout: 2_000 })) ?? '').trim();
  } catch (e) {
    return `<#status unreadable: ${e.message.split('\n')[0]}>`;
  }
}

async function waitForStatus(page, expected, timeout = WAIT_MS) {
  try {
    await page.waitForFunction(
      (want) => (document.querySelector('#status')?.textContent ?? '').trim() === want,
      expected,
      { timeout, polling: 100 },
    );
  } catch (e) {
    throw new Error(`#status did not read ${JSON.stringify(expected)} within ${timeout} ms; ` +
      `it reads ${JSON.stringify(await statusText(page))} (${e.message.split('\n')[0]})`);
  }
}

// Runs `body`, printing the browser's diagnostics if it throws.
async function withBrowser(name, body) {
  const b = await openBrowser();
  try {
    await body(b);
  } catch (e) {
    console.error(`--- ${name}: failed; #status = ${JSON.stringify(await statusText(b.page))}, url = ${b.page.url()}`);
    console.error(b.log.length ? b.log.join('\n') : '(no browser console errors recorded)');
    console.error('---');
    throw e;
  } finally {
    await b.close();
  }
}

test('register a passkey, sign out, sign in username-less', { timeout: TEST_TIMEOUT_MS }, async () => {
  const url = baseUrl();
  await withBrowser('register+login', async ({ context, page, credentials }) => {
    await page.goto(url);
    await page.locator('#name').fill(USER);
    await page.locator('#register').click();
    await waitForStatus(page, SIGNED_IN + USER);

    const afterRegister = await credentials();
    assert.equal(afterRegister.length, 1, 'the authenticator holds exactly one credential after registration');
    const cred = afterRegister[0];
    assert.equal(cred.isResidentCredential, true, 'the credential is a resident (discoverable) key');
    assert.equal(cred.rpId, 'localhost', 'the credential is scoped to RP id localhost');
    assert.ok(cred.userHandle, 'a resident credential carries a user handle');

    // Sign out: use #logout if the page has one, then drop cookies anyway
    // and reload so no session survives. The authenticator stays attached
    // to this page, so its credential survives the reload.
    const logout = page.locator('#logout');
    if (await logout.count() > 0 && await logout.first().isVisible()) {
      await logout.first().click();
      await page.waitForFunction(
        (p) => !(document.querySelector('#status')?.textContent ?? '').trim().startsWith(p),
        SIGNED_IN, { timeout: WAIT_MS, polling: 100 },
      );
    }
    await context.clearCookies();
    await page.reload();
    await page.locator('#login').waitFor({ state: 'visible' });
    // Give a page that restores its session on load a moment to do so.
    await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
    assert.ok(!(await statusText(page)).startsWith(SIGNED_IN),
      `after sign-out and reload the page must not still be signed in (#status = ${JSON.stringify(await statusText(page))})`);

    // Username-less sign-in with the discoverable credential.
    await page.locator('#name').fill('');
    await page.locator('#login').click();
    await waitForStatus(page, SIGNED_IN + USER);

    const afterLogin = await credentials();
    assert.equal(afterLogin.length, 1, 'sign-in does not create another credential');
    assert.equal(afterLogin[0].credentialId, cred.credentialId, 'the same credential was used');
    assert.ok(afterLogin[0].signCount > cred.signCount,
      `the authenticator produced an assertion (signCount ${cred.signCount} -> ${afterLogin[0].signCount})`);
  });
});

test('username-less sign-in without a registered passkey does not sign in', { timeout: TEST_TIMEOUT_MS }, async () => {
  const url = baseUrl();
  await withBrowser('login without credential', async ({ page, credentials }) => {
    await page.goto(url);
    assert.equal((await credentials()).length, 0, 'the fresh authenticator holds no credential');
    await page.locator('#name').fill('');
    await page.locator('#login').click();
    let signedIn = false;
    try {
      await page.waitForFunction(
        (p) => (document.querySelector('#status')?.textContent ?? '').trim().startsWith(p),
        SIGNED_IN, { timeout: NEGATIVE_WAIT_MS, polling: 100 },
      );
      signedIn = true;
    } catch {
      // Timed out: what we want.
    }
    const status = await statusText(page);
    assert.equal(signedIn, false, `#status must not read "signed in as ..." (it reads ${JSON.stringify(status)})`);
    assert.ok(!status.startsWith(SIGNED_IN), `#status reads ${JSON.stringify(status)}`);
  });
});
