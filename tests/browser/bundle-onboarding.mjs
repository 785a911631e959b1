// End-to-end browser test of the `guss` bundle server's onboarding.
//
// From an empty data directory: the owner completes the setup wizard
// (organisation, passkey, profession, mail domain, a colleague's
// invitation, a second admin and a deputy, the continuity sheet); in a
// second browser context with its own virtual authenticator the colleague
// accepts the invitation, registers a passkey, reaches the devices page and
// mints an app password for Windows. That password then works with real
// clients: webdav4 uploads a file over WebDAV and the python `caldav`
// client finds the office's shared calendar "Büro"
// (scripts/interop/bundle_clients.py). A third context without a session
// is sent from /home to /sign-in.
//
// Drives Debian's Chromium (/usr/bin/chromium) through playwright-core with
// a CDP virtual WebAuthn authenticator per context (see
// tests/browser/passkey-login.mjs and shared/PEERS.md).
//
// Usage: GUSS_BASE_URL=http://localhost:PORT node --test tests/browser/bundle-onboarding.mjs
// (or scripts/interop/bundle-browser.sh, which builds and starts the server
// on a fresh data directory; the wizard only opens on an empty one).
//
// Env:
//   GUSS_BASE_URL    the server, with host `localhost` (the WebAuthn RP id)
//   GUSS_ARTIFACTS   where screenshots and summary.json go
//                    (default target/test-artifacts/bundle-onboarding/)
//   GUSS_CHROMIUM    the browser (default /usr/bin/chromium)
//   GUSS_PYTHON      the python for bundle_clients.py (default python3)
//   GUSS_STATE       where to leave the office's state (passkeys, the
//                    colleague's account) for the tests that follow
//
// Every wizard page is kept as a full-page screenshot (01-setup.png ...).
// The test counts the person's actions (each goto, fill, check, select and
// click) and the wall time from the first page load to the finished
// onboarding, prints `onboarding: N actions, S.S s` and writes both, with
// the colleague's numbers, to summary.json. The wall time leaves out the
// time the test itself spends on screenshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.mjs';
import { Person, STEP_MS, baseUrl, expectAt, firstLine, seconds, step } from './person.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const TEST_TIMEOUT_MS = 120_000; // whole-test bound (node:test); a pass takes ~15 s
const CLIENTS_TIMEOUT_MS = 60_000; // bundle_clients.py
const ARTIFACTS = resolve(process.env.GUSS_ARTIFACTS || join(ROOT, 'target', 'test-artifacts', 'bundle-onboarding'));
const CLIENTS_SCRIPT = join(ROOT, 'scripts', 'interop', 'bundle_clients.py');

const OFFICE = {
  organisation: 'Kanzlei Beispiel',
  profession: 'law_office',
  ownerName: 'Clara Chefin',
  ownerEmail: 'chefin@kanzlei-beispiel.example',
  domain: 'kanzlei-beispiel.example',
};
const COLLEAGUE = { name: 'Ben Beispiel', email: 'ben@kanzlei-beispiel.example' };
const SHARED_CALENDAR = 'Büro';

function runClients(args) {
  return new Promise((resolvePromise, reject) => {
    const python = process.env.GUSS_PYTHON || 'python3';
    const child = spawn(python, [CLIENTS_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), CLIENTS_TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolvePromise({ code, signal, out, err }); });
  });
}


// ------------------------------------------------------------------ test

test('bundle onboarding: wizard, invitation, devices, WebDAV and CalDAV with an app password',
  { timeout: TEST_TIMEOUT_MS }, async () => {
    const base = baseUrl();
    await mkdir(ARTIFACTS, { recursive: true });
    // This run's pictures only: drop what an earlier run left (other files,
    // such as the server log the script copies in, stay).
    for (const file of await readdir(ARTIFACTS)) {
      if (/^(\d\d-.*|failure-.*)\.png$|^summary\.json$/.test(file)) await rm(join(ARTIFACTS, file), { force: true });
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: STEP_MS,
    });
    const people = [];
    const summary = { base, artifacts: ARTIFACTS };
    let current = null;
    try {
      // ---------------------------------------------------- the owner
      const owner = await Person.open(browser, 'owner', ARTIFACTS);
      people.push(owner);
      current = owner;
      let started;

      let inviteLink;
      await step(owner, '1 first visit: organisation and owner', async () => {
        started = Date.now();
        await owner.goto(`${base}/`);
        await expectAt(owner, '/setup', 'an empty server sends the first visit to the wizard');
        await owner.fill('#organisation', OFFICE.organisation);
        await owner.check(`input[name=profession][value=${OFFICE.profession}]`);
        await owner.fill('#owner_name', OFFICE.ownerName);
        await owner.fill('#owner_email', OFFICE.ownerEmail);
        await owner.shot('01-setup.png');
        await owner.clickTo('form[action="/setup"] button[type=submit]', /^\/join\/[A-Za-z0-9_-]+$/);
      });

      await step(owner, '2 the owner\'s passkey', async () => {
        await owner.page.locator('button[data-enroll]').waitFor();
        await owner.shot('02-passkey.png');
        assert.equal((await owner.credentials()).length, 0, 'the owner\'s authenticator starts empty');
        await owner.clickTo('button[data-enroll]', '/setup/office');
        const creds = await owner.credentials();
        assert.equal(creds.length, 1, 'enrolment made one credential');
        assert.equal(creds[0].rpId, 'localhost');
        assert.equal(creds[0].isResidentCredential, true, 'a discoverable credential');
      });

      await step(owner, '3 office: profession', async () => {
        const chosen = owner.page.locator(`input[name=profession][value=${OFFICE.profession}]`);
        assert.equal(await chosen.isChecked(), true, 'the profession chosen on the first page is preselected');
        assert.equal(await owner.page.locator('#organisation').inputValue(), OFFICE.organisation);
        await owner.shot('03-office.png');
        // An admin form: with data-step-up="needed" the script confirms with
        // the passkey first (an assertion: the sign count grows).
        const form = owner.page.locator('form[action="/setup/office"]');
        const stepUp = await form.getAttribute('data-step-up');
        const before = await owner.signCount();
        await owner.clickTo('form[action="/setup/office"] button[type=submit]', '/setup/mail');
        if (stepUp === 'needed') {
          assert.ok(await owner.signCount() > before, 'the step-up made a passkey assertion');
        }
        summary.ownerStepUp = stepUp;
      });

      await step(owner, '4 mail domain and DNS records', async () => {
        await owner.fill('#domain', OFFICE.domain);
        const { response } = await owner.submitHere('form[action="/setup/mail"] button[type=submit]');
        await expectAt(owner, '/setup/mail', 'saving the domain stays on the mail step');
        assert.equal(response.status() < 400, true, `POST /setup/mail answered ${response.status()}`);
        const rows = owner.page.locator('table tbody tr');
        await rows.first().waitFor();
        const records = await rows.evaluateAll((trs) => trs.map((tr) =>
          Array.from(tr.querySelectorAll('td'), (td) => td.textContent.trim())));
        assert.ok(records.some(([name, kind, value]) => kind === 'MX' && name.includes(OFFICE.domain) && value),
          `an MX record for ${OFFICE.domain}: ${JSON.stringify(records)}`);
        assert.ok(records.some(([name, kind, value]) => kind === 'TXT' && name.includes('_domainkey') && /p=/.test(value)),
          `a DKIM TXT record under _domainkey: ${JSON.stringify(records)}`);
        await owner.shot('04-mail.png');
        await owner.clickTo('a.button[href="/setup/people"]', '/setup/people');
      });

      await step(owner, '5 people: invite a colleague', async () => {
        await owner.fill('#name', COLLEAGUE.name);
        await owner.fill('#email', COLLEAGUE.email);
        await owner.submitHere('form[action="/setup/people"] button[type=submit]');
        await expectAt(owner, '/setup/people', 'the invitation shows on the people step');
        const link = owner.page.locator('input[data-invitation-link]');
        await link.waitFor();
        inviteLink = await link.inputValue();
        assert.match(inviteLink, /^http:\/\/localhost:\d+\/join\/[A-Za-z0-9_-]+$/, 'the invitation link');
        assert.equal(new URL(inviteLink).origin, base, 'the invitation link points at this server');
        assert.match(await owner.page.locator('ul.people').textContent(), new RegExp(COLLEAGUE.name));
        await owner.shot('05-people.png');
        await owner.clickTo('a.button[href="/setup/continuity"]', '/setup/continuity');
      });

      await step(owner, '6 continuity: second admin and a deputy', async () => {
        assert.equal(await owner.page.locator('a.button[href="/setup/sheet"]').count(), 0,
          'with one admin and no trustees the sheet is not offered yet');
        await owner.select('#admin-person', COLLEAGUE.name);
        await owner.submitHere('form:has(#admin-person) button[type=submit]');
        await expectAt(owner, '/setup/continuity', 'making an admin returns to the continuity step');
        const adminsLine = await owner.page.locator('section[aria-labelledby=admins-title]').textContent();
        assert.ok(adminsLine.includes(OFFICE.ownerName) && adminsLine.includes(COLLEAGUE.name),
          `both are admins now: ${adminsLine.trim()}`);

        await owner.select('#represented', OFFICE.ownerName);
        await owner.select('#deputy', COLLEAGUE.name);
        await owner.submitHere('form:has(#deputy) button[type=submit]');
        await expectAt(owner, '/setup/continuity', 'naming a deputy returns to the continuity step');
        const deputies = await owner.page.locator('section[aria-labelledby=deputies-title] ul').textContent();
        assert.ok(deputies.includes(COLLEAGUE.name) && deputies.includes(OFFICE.ownerName),
          `the deputy is listed: ${deputies.trim()}`);
        await owner.page.locator('a.button[href="/setup/sheet"]').waitFor();
        await owner.shot('06-continuity.png');
        await owner.clickTo('a.button[href="/setup/sheet"]', '/setup/sheet');
      });

      await step(owner, '7 continuity sheet and finish', async () => {
        const sheet = owner.page.locator('section.sheet');
        const text = (await sheet.textContent()).replace(/\s+/g, ' ');
        assert.ok(text.includes(OFFICE.organisation), `the sheet names the office: ${text}`);
        const admins = await sheet.locator('h3:nth-of-type(1) + ul li').allTextContents();
        assert.deepEqual(admins.map((s) => s.trim()).sort(), [COLLEAGUE.name, OFFICE.ownerName].sort(),
          'the sheet lists both admins');
        const deputies = await sheet.locator('h3:nth-of-type(2) + ul li').allTextContents();
        assert.ok(deputies.some((l) => l.includes(COLLEAGUE.name) && l.includes(OFFICE.ownerName)),
          `the sheet lists the deputy: ${JSON.stringify(deputies)}`);
        await owner.shot('07-sheet.png');
        await owner.clickTo('form[action="/setup/sheet"] button[type=submit]', '/home');
      });

      const ownerMs = Date.now() - started - owner.shotMs;
      const ownerActions = owner.actions;
      await step(owner, '8 home', async () => {
        await owner.page.locator('main h1').waitFor();
        const h1 = (await owner.page.locator('main h1').textContent()).trim();
        assert.ok(h1.length > 0, 'the home page has a heading');
        assert.match(await owner.page.locator('main').textContent(), new RegExp(OFFICE.ownerName),
          'home greets the owner by name');
        assert.equal(await owner.page.locator('p.notice a[href="/setup/office"]').count(), 0,
          'home shows no "setup unfinished" notice');
        assert.equal(await owner.page.locator('header nav a[href="/setup/office"]').count(), 0,
          'the navigation no longer offers the wizard');
        await owner.shot('08-home.png');
      });
      // Signing out and in again, without typing a name (after the
      // onboarding's time and actions are taken).
      await step(owner, '8b sign out, then sign in with the passkey alone', async () => {
        const before = await owner.signCount();
        await owner.clickTo('button[data-sign-out]', '/sign-in');
        await owner.clickTo('button[data-sign-in]', '/home');
        assert.ok((await owner.signCount()) > before, 'the sign-in used the passkey');
        assert.match(await owner.page.locator('main').textContent(), new RegExp(OFFICE.ownerName),
          'signed in again as the owner');
      });
      summary.owner = {
        actions: ownerActions,
        seconds: Number(seconds(ownerMs)),
        screenshotSeconds: Number(seconds(owner.shotMs)),
        steps: owner.actionLog,
      };
      console.log(`onboarding: ${ownerActions} actions, ${seconds(ownerMs)} s`);

      // ------------------------------------------------- the colleague
      const ben = await Person.open(browser, 'colleague', ARTIFACTS);
      people.push(ben);
      current = ben;
      let account;
      let benStarted;
      await step(ben, '9 accept the invitation', async () => {
        benStarted = Date.now();
        await ben.goto(inviteLink);
        await expectAt(ben, new URL(inviteLink).pathname, 'the invitation opens the join page');
        await ben.page.locator('button[data-enroll]').waitFor();
        assert.match(await ben.page.locator('main').textContent(), new RegExp(OFFICE.organisation),
          'the join page names the office');
        await ben.shot('09-colleague-join.png');
        assert.equal((await ben.credentials()).length, 0, 'the colleague\'s authenticator starts empty');
        await ben.clickTo('button[data-enroll]', '/devices');
        const creds = await ben.credentials();
        assert.equal(creds.length, 1, 'the colleague has one passkey');
        const ownerCreds = await owner.credentials();
        assert.equal(ownerCreds.length, 1, 'the owner\'s authenticator is untouched');
        assert.notEqual(creds[0].credentialId, ownerCreds[0].credentialId, 'two different passkeys');
        await ben.page.locator('button[data-device="windows"]').waitFor();
        await ben.shot('10-colleague-devices.png');
      });

      await step(ben, '10 connect a Windows device', async () => {
        // Minting an app password needs a fresh passkey confirmation: with
        // data-step-up="needed" the script does it first.
        const form = ben.page.locator('form:has(button[data-device="windows"])');
        const stepUp = await form.getAttribute('data-step-up');
        const before = await ben.signCount();
        await ben.submitHere('button[data-device="windows"]');
        if (stepUp === 'needed') {
          assert.ok(await ben.signCount() > before, 'the step-up made a passkey assertion');
        }
        summary.colleagueStepUp = stepUp;
        await expectAt(ben, '/devices', 'the device page answers on /devices');
        await ben.page.locator('code[data-app-password]').waitFor();
        const read = async (attr) => (await ben.page.locator(`code[${attr}]`).textContent()).trim();
        account = {
          username: await read('data-username'),
          password: await read('data-app-password'),
          webdavUrl: await read('data-webdav-url'),
          caldavUrl: await read('data-caldav-url'),
        };
        assert.equal(account.username, COLLEAGUE.email, 'the username is the colleague\'s address');
        assert.ok(account.password.length >= 16, 'an app password of some length');
        assert.equal(new URL(account.webdavUrl).origin, base, 'the WebDAV address is this server');
        const caldav = new URL(account.caldavUrl);
        assert.equal(caldav.origin, base, 'the CalDAV address is this server');
        assert.ok(caldav.pathname === '/.well-known/caldav' || caldav.pathname.startsWith('/dav/'),
          `the CalDAV address is the well-known one or below /dav/: ${account.caldavUrl}`);
        await ben.shot('11-colleague-device-ready.png');
      });
      const benMs = Date.now() - benStarted - ben.shotMs;
      summary.colleague = {
        actions: ben.actions,
        seconds: Number(seconds(benMs)),
        screenshotSeconds: Number(seconds(ben.shotMs)),
        steps: ben.actionLog,
      };
      console.log(`colleague: ${ben.actions} actions, ${seconds(benMs)} s`);

      // ------------------------------------------- a visitor, no session
      const visitor = await Person.open(browser, 'visitor', ARTIFACTS);
      people.push(visitor);
      current = visitor;
      await step(visitor, '11 no session: /home goes to sign-in', async () => {
        await visitor.goto(`${base}/home`);
        await expectAt(visitor, '/sign-in', 'without a session /home redirects to sign-in');
        await visitor.page.locator('button[data-sign-in]').waitFor();
        await visitor.shot('12-visitor-sign-in.png');
      });
      current = null;

      // --------------------------------- the app password in real clients
      const clientArgs = [
        '--webdav-url', account.webdavUrl,
        '--caldav-url', account.caldavUrl,
        '--username', account.username,
        '--password', account.password,
        '--calendar', SHARED_CALENDAR,
      ];
      if (process.env.GUSS_SUBMISSION_PORT && process.env.GUSS_IMAP_PORT) {
        clientArgs.push('--submission-port', process.env.GUSS_SUBMISSION_PORT,
          '--imap-port', process.env.GUSS_IMAP_PORT);
      }
      const result = await runClients(clientArgs);
      process.stdout.write(result.out);
      if (result.err) process.stderr.write(result.err);
      if (result.code !== 0) {
        // The server and its data are thrown away after the test, so the
        // app password in this line is of no use afterwards.
        console.error(`to repeat while the server runs: python3 ${CLIENTS_SCRIPT} ` +
          clientArgs.map((a) => `'${a}'`).join(' '));
      }
      summary.clients = { exitCode: result.code, output: result.out.trim().split('\n') };
      // The office as this run leaves it, for the tests that go on from here
      // (tests/browser/bundle-files.mjs): both passkeys and the colleague.
      if (process.env.GUSS_STATE) {
        const state = {
          base,
          owner: { email: OFFICE.ownerEmail, passkey: await owner.passkey() },
          colleague: { name: COLLEAGUE.name, email: COLLEAGUE.email, passkey: await ben.passkey(), account },
        };
        await writeFile(process.env.GUSS_STATE, JSON.stringify(state), { mode: 0o600 });
      }
      const failures = result.out.split('\n').filter((l) => / FAIL /.test(l)).map((l) => l.trim());
      assert.equal(result.code, 0, `bundle_clients.py exited ${result.code ?? result.signal}: ` +
        (failures.length ? failures.join(' | ') : result.err.trim().split('\n').slice(-3).join(' / ')));
    } catch (e) {
      if (current) await current.report(firstLine(e));
      else for (const p of people) if (p.log.some((l) => l.startsWith('http ') || l.startsWith('pageerror'))) await p.report('browser log');
      summary.failure = firstLine(e);
      throw e;
    } finally {
      summary.screenshots = people.flatMap((p) => p.shots);
      await writeFile(join(ARTIFACTS, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      await browser.close().catch(() => {});
    }
  });
