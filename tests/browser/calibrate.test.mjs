// The page's Calibrate panel end to end (issue 19): Debian's chromium,
// headless, driven by playwright-core, with a fake camera showing one real
// face (a neutral one, cut from face-api's demo pictures), against the real
// server with a real LMDB store. The listener teaches emotune that this face
// is sad, and the reading of the same face moves towards sad; a mood stated
// by hand while the face is in view counts as an example; the guided
// calibration asks for five expressions in turn and shows its progress;
// forgetting brings the reading back.
//
//   node tests/browser/calibrate.test.mjs    (from the repository root, after make)
//
// Prints cmocka's lines, so scripts/run-tests.sh counts each test. Skips
// (and says why) only when no chromium can be found. No verdict depends on
// time: each step waits for what it checks, GUARD_MS being only the bound
// of a hang.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import {
  BIN, DEMO, GUARD_MS, MODELS, Runner, check, chromiumArgs, findChromium, removeDir, sh,
  startServer, tempDir,
} from './support.mjs';

const run = new Runner('browser calibrate');
const wait = { timeout: GUARD_MS, polling: 200 };
const LISTENER = 'calibrating';

let dir, server, browser, page;
const problems = [];
const frames = []; // every frame reply the page got, in order: {t, face}

// One scene: the neutral face of the page test's camera, checked first.
function makeCamera() {
  const still = join(dir, 'face.jpg');
  sh('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', join(DEMO, 'sample4.jpg'),
                '-vf', 'crop=640:480:431:0,scale=480:360', '-q:v', '3', still]);
  const seen = JSON.parse(sh(BIN, ['detect', '--json', '--models', MODELS, still]));
  if (seen.faces.length !== 1)
    throw new Error(`the camera's picture has ${seen.faces.length} faces, the test wants one`);
  const video = join(dir, 'camera.y4m');
  sh('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', '5',
                '-t', '6', '-i', still, '-vf', 'format=yuv420p', '-r', '5', video]);
  return video;
}

async function api(path, init) {
  const r = await fetch(server.url + path, init);
  const doc = await r.json();
  check(r.ok, `${path}: ${r.status} ${JSON.stringify(doc)}`);
  return doc;
}

const mine = (rest) => `/api/v1/listeners/${LISTENER}/${rest}`;

// The page's count of an expression, as shown.
const countIs = (expression, n) => page.waitForFunction(
  ([e, v]) => document.querySelector(`#calibrate-counts dd[data-expression="${e}"]`)
    .textContent === v, [expression, String(n)], wait);

// Waits for a frame reply after `since` whose face satisfies ok(face).
async function frameAfter(since, ok) {
  for (;;) {
    const f = frames.find((x) => x.t > since && x.face && ok(x.face));
    if (f) return f.face;
    await new Promise((done) => setTimeout(done, 100));
  }
}

let before; // the face's reading before any calibration

run.test('the_panel_shows_no_calibration_and_the_face_is_read_as_it_is', async () => {
  await page.goto(server.url + '/');
  await page.waitForFunction(() => !document.getElementById('calibrate').hidden &&
    document.querySelectorAll('#calibrate-counts dd').length === 7, null, wait);
  before = await frameAfter(0, () => true);
  check(before.calibrated === false, `an uncalibrated face says calibrated ${before.calibrated}`);
  for (const e of ['neutral', 'sad', 'surprised']) await countIs(e, 0);
  check(await page.locator('#calibrate-forget').isDisabled(), 'nothing to forget, yet offered');
});

run.test('teaching_sad_moves_the_reading_of_the_same_face_towards_sad', async () => {
  await page.locator('#calibrate-one button[data-expression="sad"]').click();
  await countIs('sad', 3);
  await page.waitForFunction(() => /Calibration done: 3 of 3/.test(
    document.getElementById('calibrate-status').textContent), null, wait);
  const cal = await api(mine('calibration'));
  check(cal.counts.sad === 3 && cal.total === 3 && cal.in_use, `stored ${JSON.stringify(cal)}`);
  const now = Date.now();
  const after = await frameAfter(now, (f) => f.calibrated === true);
  console.log(`  sad ${before.expressions.sad.toFixed(4)} before, ` +
              `${after.expressions.sad.toFixed(4)} after three sad examples`);
  check(after.expressions.sad > before.expressions.sad,
        `sad ${after.expressions.sad} after calibration, ${before.expressions.sad} before`);
});

run.test('a_mood_stated_by_hand_with_the_face_in_view_is_an_example', async () => {
  await page.locator('#manual-moods button[data-mood="sad"]').click();
  await countIs('sad', 4);
  await page.locator('#manual-moods button[data-mood="calm"]').click();
  await countIs('neutral', 1); // calm is the neutral face's mood
  await page.getByRole('button', { name: 'Use my face again' }).click();
  const cal = await api(mine('calibration'));
  check(cal.counts.sad === 4 && cal.counts.neutral === 1, `stored ${JSON.stringify(cal)}`);
});

run.test('the_guided_calibration_asks_in_turn_and_shows_progress', async () => {
  await page.evaluate(() => {
    window.__asked = [];
    const el = document.getElementById('calibrate-ask');
    new MutationObserver(() => {
      const t = el.textContent.trim();
      if (t && window.__asked[window.__asked.length - 1] !== t) window.__asked.push(t);
    }).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.getByRole('button', { name: 'Calibrate', exact: true }).click();
  await page.waitForFunction(() => /Calibration done: 15 of 15/.test(
    document.getElementById('calibrate-status').textContent), null, wait);
  const asked = await page.evaluate(() => window.__asked);
  const want = ['neutral', 'Smile', 'sad', 'angry', 'surprised'];
  check(asked.length === 5 && want.every((w, i) => asked[i].includes(w)),
        `asked ${JSON.stringify(asked)}`);
  const progress = await page.evaluate(() => {
    const p = document.getElementById('calibrate-progress');
    return [p.value, p.max];
  });
  check(progress[0] === 15 && progress[1] === 15, `progress ${progress}`);
  const cal = await api(mine('calibration'));
  const c = cal.counts;
  check(c.neutral === 4 && c.happy === 3 && c.sad === 7 && c.angry === 3 && c.surprised === 3,
        `stored ${JSON.stringify(cal)}`);
  await countIs('sad', 7);
});

run.test('forgetting_clears_the_counts_and_the_reading', async () => {
  await page.getByRole('button', { name: 'Forget my calibration' }).click();
  await countIs('sad', 0);
  const cal = await api(mine('calibration'));
  check(cal.total === 0 && !cal.in_use, `stored ${JSON.stringify(cal)}`);
  const now = Date.now();
  const face = await frameAfter(now, (f) => f.calibrated === false);
  check(Math.abs(face.expressions.sad - before.expressions.sad) < 0.02,
        `sad ${face.expressions.sad} after forgetting, ${before.expressions.sad} at first`);
});

run.test('no_console_error_and_no_csp_violation', async () => {
  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 0, `CSP violations: ${csp.join('; ')}`);
  check(problems.length === 0, problems.join('\n'));
});

async function main() {
  const exe = findChromium();
  if (!exe) return run.skipAll('no chromium on this machine (Debian package chromium; ' +
                               'scripts/deps.sh installs it)');
  try {
    dir = tempDir();
    const video = makeCamera();
    const music = join(dir, 'music');
    mkdirSync(music);
    server = await startServer({ dir, music });
    browser = await chromium.launch({ executablePath: exe, headless: true,
                                      args: chromiumArgs({ video, fakeUi: true }) });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((name) => {
      localStorage.setItem('emotune.listener', name);
      window.__csp = [];
      document.addEventListener('securitypolicyviolation',
                                (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    }, LISTENER);
    context.setDefaultTimeout(GUARD_MS);
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('response', async (r) => {
      if (!r.url().includes('/frames') || !r.ok()) return;
      try {
        const doc = await r.json();
        frames.push({ t: Date.now(), face: (doc.faces || [])[0] || null });
      } catch {
        // a reply the page was closed before reading
      }
    });
  } catch (e) {
    await cleanup();
    return run.setupFailed(e);
  }
  const rc = await run.run();
  await cleanup();
  return rc;
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (server) {
    const code = await server.stop();
    if (code !== 0) console.log(`emotune serve stopped with ${code}:\n${server.log()}`);
  }
  removeDir(dir);
}

process.exitCode = await main();
