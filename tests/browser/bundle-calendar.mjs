// End-to-end browser test of the bundle's calendar pages, on the office
// that tests/browser/bundle-onboarding.mjs set up (GUSS_STATE). The owner
// signs in with her passkey and:
//
//   1. creates a weekly "Teamrunde" in the office calendar on the event form;
//   2. moves its second occurrence from Monday 09:00 to Tuesday 14:00 on the
//      occurrence's page, and sees the week change;
//   3. the python `caldav` client, with the colleague's app password
//      (scripts/interop/bundle_calendar.py), finds the series with exactly
//      that exception, and the expanded weeks agree;
//   4. adds a meeting room, books it, and is refused clearly when booking it
//      again at an overlapping time (after seeing it busy on the form).
//
// Every page is kept at desktop and phone width and checked with axe-core.
// Usage: scripts/interop/bundle-browser.sh runs it after the files test.
// Env: GUSS_STATE (required), GUSS_ARTIFACTS, GUSS_CHROMIUM, GUSS_PYTHON.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clickAndWait, handOnPasskey, runOnOffice } from './pages.mjs';
import { Person, step } from './person.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const ARTIFACTS = resolve(process.env.GUSS_ARTIFACTS || join(ROOT, 'target', 'test-artifacts', 'bundle-calendar'));
const CHECK_SCRIPT = join(ROOT, 'scripts', 'interop', 'bundle_calendar.py');
const TEST_TIMEOUT_MS = 180_000;
const SAVE = 'form[data-event-form] button[type=submit]:not([name=check])';

// `YYYY-MM-DD` of a date `days` after `from`.
function isoDay(from, days) {
  const d = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + days));
  return d.toISOString().slice(0, 10);
}

function runCheck(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.env.GUSS_PYTHON || 'python3', [CHECK_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, out }); });
  });
}

// Fills the event form: title, calendar, one day's times, repeat, room.
async function fillEvent(person, { title, calendar, day, start, end, repeat, room }) {
  await person.fill('#title', title);
  if (calendar) await person.select('#cal', calendar);
  await person.fill('#start-date', day);
  await person.fill('#start-time', start);
  await person.fill('#end-date', day);
  await person.fill('#end-time', end);
  if (repeat) await person.select('#repeat', repeat);
  if (room) await person.select('#bookable', room);
}

test('bundle calendar: a series with a moved occurrence, over CalDAV; a room booked once', { timeout: TEST_TIMEOUT_MS }, async () => {
  await runOnOffice(ARTIFACTS, 'calendar', async ({ state, pages, browser, summary, acting }) => {
    const base = state.base;
  const now = new Date();
  // The Monday after next: far enough ahead for every occurrence to come.
  const first = isoDay(now, ((8 - now.getUTCDay()) % 7 || 7) + 7);
  const firstDate = new Date(`${first}T00:00:00Z`);
  const second = isoDay(firstDate, 7);
  const tuesday = isoDay(firstDate, 8);
  const wednesday = isoDay(firstDate, 2);
    const owner = await Person.withPasskey(browser, 'owner', ARTIFACTS, state.owner.passkey);
    acting(owner);
    await step(owner, '1 a weekly series in the office calendar', async () => {
      await owner.goto(`${base}/sign-in`);
      await owner.clickTo('button[data-sign-in]', '/home');
      await clickAndWait(owner, 'header nav a[href="/calendar"]', /\/calendar$/);
      await pages.keep(owner, '01-week');
      await clickAndWait(owner, 'a[data-new-event]', /\/calendar\/new/);
      await pages.keep(owner, '02-new-event');
      await fillEvent(owner, { title: 'Teamrunde', calendar: 'Büro', day: first, start: '09:00', end: '10:00', repeat: 'wöchentlich' });
      await clickAndWait(owner, SAVE, /done=saved/);
      assert.match(await owner.page.locator('[data-when]').textContent(), /09:00–10:00/);
      await pages.keep(owner, '03-event');
    });
    await step(owner, '2 move the second occurrence to Tuesday afternoon', async () => {
      await owner.goto(`${base}/calendar?date=${second}`);
      await clickAndWait(owner, `[data-day="${second}"] a[data-event]`, /\/calendar\/event\?.*&at=\d+/);
      await pages.keep(owner, '04-occurrence');
      await owner.fill('#move-start-date', tuesday);
      await owner.fill('#move-start-time', '14:00');
      await owner.fill('#move-end-date', tuesday);
      await owner.fill('#move-end-time', '15:00');
      await clickAndWait(owner, 'form[data-move-occurrence] button[type=submit]', /done=moved/);
      await pages.keep(owner, '05-moved');
      await owner.goto(`${base}/calendar?date=${second}`);
      const monday = await owner.page.locator(`[data-day="${second}"]`).textContent();
      const tuesdayText = await owner.page.locator(`[data-day="${tuesday}"]`).textContent();
      assert.doesNotMatch(monday, /Teamrunde/, 'the Monday is free');
      assert.match(tuesdayText, /14:00–15:00\s*Teamrunde/, 'the occurrence is on Tuesday');
      await pages.keep(owner, '06-week-moved');
      await clickAndWait(owner, `[data-day="${tuesday}"] h3 a`, /view=day/);
      assert.match(await owner.page.locator('[data-period]').textContent(), /^Di /, 'the day view of the Tuesday');
      await pages.keep(owner, '06b-day');
      await clickAndWait(owner, 'a[data-event]', /\/calendar\/event\?/);
      await clickAndWait(owner, 'a[href^="/calendar/edit?"]', /\/calendar\/edit\?/);
      assert.equal(await owner.page.locator('#title').inputValue(), 'Teamrunde', 'the series in its form');
      assert.equal(await owner.page.locator('#repeat').inputValue(), 'weekly');
      await pages.keep(owner, '06c-edit-series');
    });
    await step(owner, '3 the python caldav client sees the same series', async () => {
      const account = state.colleague.account;
      const result = await runCheck([
        '--caldav-url', account.caldavUrl, '--username', account.username, '--password', account.password,
        '--calendar', 'Büro', '--summary', 'Teamrunde',
        '--moved-from', `${second}T09:00`, '--moved-to', `${tuesday}T14:00`,
      ]);
      process.stdout.write(result.out);
      summary.caldav = result.out.trim().split('\n');
      assert.equal(result.code, 0, `bundle_calendar.py failed:\n${result.out}`);
    });
    await step(owner, '4 a room, booked once; the second booking is refused', async () => {
      await owner.goto(`${base}/calendar`);
      await clickAndWait(owner, 'a[href="/calendar/bookables"]', /\/calendar\/bookables$/);
      await owner.fill('#bookable-name', 'Besprechungsraum');
      await clickAndWait(owner, 'form[action="/calendar/bookables/add"] button[type=submit]', /done=bookable_added/);
      await pages.keep(owner, '07-bookables');
      await owner.goto(`${base}/calendar/new?date=${wednesday}`);
      await fillEvent(owner, { title: 'Mandantengespräch', day: wednesday, start: '11:00', end: '12:00', room: 'Besprechungsraum' });
      await clickAndWait(owner, SAVE, /done=saved/);
      assert.match(await owner.page.locator('main').textContent(), /Besprechungsraum: zugesagt/);
      await pages.keep(owner, '08-room-booked');
      await owner.goto(`${base}/calendar/new?date=${wednesday}`);
      await fillEvent(owner, { title: 'Akte Müller', day: wednesday, start: '11:30', end: '12:30', room: 'Besprechungsraum' });
      await clickAndWait(owner, 'form[data-event-form] button[name=check]', /\/calendar\/save$/);
      assert.match(await owner.page.locator('[data-availability]').textContent(), /Besprechungsraum:\s*belegt 11:00–12:00/);
      await pages.keep(owner, '09-availability');
      await clickAndWait(owner, SAVE, /\/calendar\/save$/);
      const error = await owner.page.locator('[data-error]').textContent();
      assert.match(error, /Besprechungsraum ist zu dieser Zeit schon gebucht: .* 11:00–12:00/);
      assert.equal(await owner.page.locator('#title').inputValue(), 'Akte Müller', 'the form keeps what was typed');
      await pages.keep(owner, '10-room-taken');
      await owner.goto(`${base}/calendar?date=${wednesday}`);
      assert.doesNotMatch(await owner.page.locator('main').textContent(), /Akte Müller/, 'nothing was saved');
    });
    await handOnPasskey(state, owner);
  });
});
