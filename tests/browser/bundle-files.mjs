// End-to-end browser test of the bundle's files pages, on the office that
// tests/browser/bundle-onboarding.mjs set up (its passkeys come from
// GUSS_STATE). The owner signs in with her passkey alone and:
//
//   1. uploads a file, overwrites it, restores the first version and gets
//      the first bytes back;
//   2. deletes a folder with a file in it and restores it from the trash;
//   3. changes a folder several times and puts it back as it was at a
//      moment in between;
//   4. shares a file by link, which someone in a fresh context without a
//      session opens and downloads.
//
// Every page is kept as a screenshot at desktop and at phone width, checked
// with axe-core (no serious or critical violation) and for sideways
// scrolling on the phone.
//
// Usage: scripts/interop/bundle-browser.sh runs it after the onboarding.
// Env: GUSS_STATE (required), GUSS_ARTIFACTS, GUSS_CHROMIUM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clickAndWait, handOnPasskey, runOnOffice } from './pages.mjs';
import { Person, STEP_MS, step } from './person.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const ARTIFACTS = resolve(process.env.GUSS_ARTIFACTS || join(ROOT, 'target', 'test-artifacts', 'bundle-files'));
const TEST_TIMEOUT_MS = 180_000;

// Bytes that differ from version to version.
const bytes = (text) => Buffer.from(`${text}\n${'·'.repeat(2000)}\n`, 'utf8');

// The office's wall clock (Europe/Berlin) as a datetime-local value.
function officeNow() {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(new Date()).replace(' ', 'T');
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function upload(person, name, content) {
  await person.page.locator('#upload-files').setInputFiles({ name, mimeType: 'text/plain', buffer: content });
  await clickAndWait(person, '[data-upload-start]', /done=uploaded/);
  await person.page.locator(`table.listing a:text-is("${name}")`).waitFor();
}

// Downloads through a link on the page and returns the bytes.
async function download(person, selector) {
  const started = person.page.waitForEvent('download', { timeout: STEP_MS });
  await person.click(selector);
  const file = await (await started).path();
  return readFile(file);
}

async function openDetails(person, name) {
  await clickAndWait(person, `table.listing a[aria-label="Details: ${name}"]`, /\/files\/item/);
}

async function openFolder(person, name) {
  await clickAndWait(person, `table.listing a:text-is("${name}")`, /\/files\?path=/);
}

test('bundle files: versions, trash, a folder at a moment, a share link', { timeout: TEST_TIMEOUT_MS }, async () => {
  await runOnOffice(ARTIFACTS, 'files', async ({ state, pages, browser, acting }) => {
    const base = state.base;
    const owner = await Person.withPasskey(browser, 'owner', ARTIFACTS, state.owner.passkey);
    acting(owner);
    await pages.selfCheck(owner.page);
    await step(owner, 'sign in with the passkey', async () => {
      await owner.goto(`${base}/sign-in`);
      await owner.clickTo('button[data-sign-in]', '/home');
      await clickAndWait(owner, 'header nav a[href="/files"]', /\/files$/);
      await pages.keep(owner, '01-files-top');
      await openFolder(owner, 'Meine Dateien');
      await pages.keep(owner, '02-my-files');
    });
    const myFiles = owner.page.url();

    await step(owner, '1 upload, overwrite, restore the first version', async () => {
      const first = bytes('Vertrag, erste Fassung');
      const second = bytes('Vertrag, zweite Fassung');
      await upload(owner, 'Vertrag.txt', first);
      await upload(owner, 'Vertrag.txt', second);
      await pages.keep(owner, '03-uploaded');
      await openDetails(owner, 'Vertrag.txt');
      assert.equal(await owner.page.locator('table.versions tbody tr').count(), 2, 'two versions');
      await pages.keep(owner, '04-versions');
      assert.deepEqual(await download(owner, 'main a.button[download]'), second, 'the current version is the second');
      await clickAndWait(owner, 'table.versions button[type=submit]', /done=version_restored/);
      assert.equal(await owner.page.locator('table.versions tbody tr').count(), 3, 'the restore is a new version');
      assert.deepEqual(await download(owner, 'main a.button[download]'), first, 'the first bytes are back');
      await pages.keep(owner, '05-version-restored');
    });

    await step(owner, '2 delete a folder, restore it from the trash', async () => {
      await owner.goto(myFiles);
      await owner.fill('#folder-name', 'Mandat Weber');
      await clickAndWait(owner, 'form[action="/files/folder"] button[type=submit]', /done=folder_made/);
      await openFolder(owner, 'Mandat Weber');
      const brief = bytes('Schriftsatz Weber');
      await upload(owner, 'Schriftsatz.txt', brief);
      await owner.goto(myFiles);
      await openDetails(owner, 'Mandat Weber');
      await pages.keep(owner, '06-folder-details');
      await clickAndWait(owner, 'form[action="/files/delete"] button[type=submit]', /done=deleted/);
      assert.equal(await owner.page.locator('table.listing a:text-is("Mandat Weber")').count(), 0, 'the folder is gone');
      await clickAndWait(owner, 'a[href="/files/trash"]', /\/files\/trash/);
      await pages.keep(owner, '07-trash');
      await clickAndWait(owner, 'table.listing tr:has-text("Mandat Weber") button[type=submit]', /done=trash_restored/);
      await clickAndWait(owner, 'main a.button[href^="/files?path="]', /\/files\?path=/);
      await openDetails(owner, 'Schriftsatz.txt');
      assert.deepEqual(await download(owner, 'main a.button[download]'), brief, 'the file inside came back');
    });

    await step(owner, '3 a folder back as it was at a moment', async () => {
      await owner.goto(myFiles);
      await owner.fill('#folder-name', 'Projekt');
      await clickAndWait(owner, 'form[action="/files/folder"] button[type=submit]', /done=folder_made/);
      await openFolder(owner, 'Projekt');
      const project = owner.page.url();
      const plan = bytes('Plan A');
      await upload(owner, 'Plan.txt', plan);
      await upload(owner, 'Liste.txt', bytes('Liste'));
      await pause(1200);
      const moment = officeNow();
      await pause(1200);
      await upload(owner, 'Plan.txt', bytes('Plan B'));
      await upload(owner, 'Neu.txt', bytes('neu'));
      await openDetails(owner, 'Liste.txt');
      await owner.fill('#new-name', 'Alt.txt');
      await clickAndWait(owner, 'form[action="/files/rename"] button[type=submit]', /done=renamed/);
      await owner.goto(project);
      await clickAndWait(owner, 'a[href^="/files/restore?path="]', /\/files\/restore/);
      await pages.keep(owner, '08-restore-form');
      await owner.fill('#at', moment);
      await clickAndWait(owner, 'form[action="/files/restore"] button[type=submit]', /done=folder_restored/);
      const names = (await owner.page.locator('table.listing tbody td:first-child a').allTextContents()).map((s) => s.trim()).sort();
      assert.deepEqual(names, ['Liste.txt', 'Plan.txt'], `the folder as it was at ${moment}`);
      await pages.keep(owner, '09-restored');
      await openDetails(owner, 'Plan.txt');
      assert.deepEqual(await download(owner, 'main a.button[download]'), plan, 'Plan.txt has its content of then');
    });

    let link;
    const shared = bytes('Gutachten zum Teilen');
    await step(owner, '4 share a file by link', async () => {
      await owner.goto(myFiles);
      await upload(owner, 'Gutachten.txt', shared);
      await openDetails(owner, 'Gutachten.txt');
      await clickAndWait(owner, 'form[action="/files/share"] button[type=submit]', /\/files\/share/);
      link = await owner.page.locator('input[data-share-link]').inputValue();
      assert.match(link, new RegExp(`^${base}/s/`), 'a link on this server');
      await pages.keep(owner, '10-share-link');
      await clickAndWait(owner, 'a[href="/files/shares"]', /\/files\/shares/);
      assert.equal(await owner.page.locator('table.listing tr:has-text("Gutachten.txt")').count(), 1, 'the link is listed');
      await pages.keep(owner, '11-shares');
    });

    const holder = await Person.open(browser, 'link-holder', ARTIFACTS);
    acting(holder);
    await step(holder, '4b download through the link without a session', async () => {
      await holder.goto(link);
      await holder.page.locator('[data-shared-download]').waitFor();
      await pages.keep(holder, '12-shared');
      assert.deepEqual(await download(holder, '[data-shared-download]'), shared, 'the shared bytes');
      await holder.goto(`${base}/files`);
      assert.equal(new URL(holder.page.url()).pathname, '/sign-in', 'the link opens nothing else');
    });
    acting(owner);
    await step(owner, '4c the download is counted', async () => {
      await owner.page.reload();
      const row = owner.page.locator('table.listing tr:has-text("Gutachten.txt") td:nth-child(4)');
      assert.equal((await row.textContent()).trim(), '1', 'one download');
    });
    await handOnPasskey(state, owner);
  });
});
