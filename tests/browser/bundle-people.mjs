// End-to-end browser test of the bundle's people pages, on the office that
// tests/browser/bundle-onboarding.mjs set up (GUSS_STATE):
//
//   1. the owner invites a member on the people page (the page confirms
//      with her passkey first); the member joins in a fresh context with a
//      passkey of their own and is refused the people page;
//   2. the owner suspends the colleague from the onboarding, whose app
//      password then stops working over WebDAV (it worked just before);
//   3. on the security page the owner adds a second passkey, and the page
//      stops asking for one.
//
// Every page is kept at desktop and phone width and checked with axe-core.
// Usage: scripts/interop/bundle-browser.sh runs it after the files test.
// Env: GUSS_STATE (required), GUSS_ARTIFACTS, GUSS_CHROMIUM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clickAndWait, runOnOffice } from './pages.mjs';
import { Person, STEP_MS, step } from './person.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const ARTIFACTS = resolve(process.env.GUSS_ARTIFACTS || join(ROOT, 'target', 'test-artifacts', 'bundle-people'));
const TEST_TIMEOUT_MS = 120_000;
const MEMBER = { name: 'Mia Mitglied', email: 'mia@kanzlei-beispiel.example' };

// The status of a WebDAV PROPFIND with an app password, as a client sends it.
async function webdavStatus(account) {
  const response = await fetch(account.webdavUrl, {
    method: 'PROPFIND',
    headers: {
      Depth: '0',
      Authorization: `Basic ${Buffer.from(`${account.username}:${account.password}`).toString('base64')}`,
    },
    signal: AbortSignal.timeout(STEP_MS),
  });
  await response.arrayBuffer();
  return response.status;
}

test('bundle people: a member is refused, a suspended colleague loses WebDAV', { timeout: TEST_TIMEOUT_MS }, async () => {
  await runOnOffice(ARTIFACTS, 'people', async ({ state, pages, browser, acting }) => {
    const base = state.base;
    const owner = await Person.withPasskey(browser, 'owner', ARTIFACTS, state.owner.passkey);
    acting(owner);
    let link;
    await step(owner, '1 invite a member', async () => {
      await owner.goto(`${base}/sign-in`);
      await owner.clickTo('button[data-sign-in]', '/home');
      await clickAndWait(owner, 'header nav a[href="/people"]', /\/people$/);
      await pages.keep(owner, '01-people');
      await owner.fill('#name', MEMBER.name);
      await owner.fill('#email', MEMBER.email);
      // An admin form: a fresh passkey confirmation first (a sign-in moments
      // ago counts as one; else the page's script asks for it).
      const stepUp = await owner.page.locator('form[action="/people/invite"]').getAttribute('data-step-up');
      assert.ok(['needed', 'done'].includes(stepUp), `the form asks for a step-up: ${stepUp}`);
      const before = await owner.signCount();
      await clickAndWait(owner, 'form[action="/people/invite"] button[type=submit]', /\/people\/invite$/);
      if (stepUp === 'needed') assert.ok(await owner.signCount() > before, 'confirmed with the passkey');
      link = await owner.page.locator('input[data-invitation-link]').inputValue();
      assert.match(link, new RegExp(`^${base}/join/`));
      await pages.keep(owner, '02-invited');
    });

    const member = await Person.open(browser, 'member', ARTIFACTS);
    acting(member);
    await step(member, '1b the member joins and is refused the people page', async () => {
      await member.goto(link);
      await member.clickTo('button[data-enroll]', '/devices');
      assert.equal(await member.page.locator('header nav a[href="/people"]').count(), 0, 'no people page in a member\'s navigation');
      const refused = await member.goto(`${base}/people`);
      assert.equal(refused.status(), 403, 'a member cannot open the people page');
      await pages.keep(member, '03-member-refused');
    });

    acting(owner);
    await step(owner, '2 suspend the colleague: the app password stops', async () => {
      const account = state.colleague.account;
      assert.equal(await webdavStatus(account), 207, 'the app password works before');
      await owner.goto(`${base}/people`);
      await clickAndWait(owner, `table.listing a:text-is("${state.colleague.name}")`, /\/people\/person/);
      await pages.keep(owner, '04-person');
      await clickAndWait(owner, 'form[action="/people/suspend"] button[type=submit]', /done=suspended/);
      assert.equal((await owner.page.locator('[data-status]').textContent()).trim(), 'gesperrt');
      await pages.keep(owner, '05-suspended');
      assert.equal(await webdavStatus(account), 401, 'the app password no longer works');
    });
    await step(owner, '3 a second passkey on the security page', async () => {
      await clickAndWait(owner, 'header nav a[href="/security"]', /\/security$/);
      assert.equal(await owner.page.locator('[data-passkey-nudge]').count(), 1, 'one passkey: a nudge');
      await pages.keep(owner, '06-security');
      // The second passkey lives on another device: a fresh authenticator
      // takes the first one's place (the first would refuse, rightly, to
      // make a second credential for the same account). The sign-in of
      // step 1 still counts as the confirmation adding a passkey needs.
      const card = owner.page.locator('[data-add-passkey-card]');
      assert.equal(await card.getAttribute('data-step-up'), 'done', 'the sign-in counts as a step-up');
      await owner.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: owner.authenticatorId });
      const second = await owner.cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });
      owner.authenticatorId = second.authenticatorId;
      await owner.fill('#passkey-label', 'Zweitgerät');
      await clickAndWait(owner, 'button[data-add-passkey]', /done=passkey_added/);
      assert.equal((await owner.credentials()).length, 1, 'the second device holds the new passkey');
      assert.equal(await owner.page.locator('[data-passkey-nudge]').count(), 0, 'no nudge with two');
      assert.match(await owner.page.locator('main').textContent(), /Zweitgerät/);
      await pages.keep(owner, '07-security-two-passkeys');
    });
  });
});
