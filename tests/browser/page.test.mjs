// The web page end to end in a real browser (issue 12): Debian's chromium,
// headless, driven by playwright-core, with a fake camera playing real faces
// (a neutral one, a happy one, an empty room), against the real server with
// a real LMDB store and a real scanned library of generated songs.
//
//   node tests/browser/page.test.mjs    (from the repository root, after make)
//
// Prints cmocka's lines, so scripts/run-tests.sh counts each test. Skips
// (and says why) only when no chromium can be found. Screenshots go to
// build/browser/; EMOTUNE_UPDATE_SCREENSHOT=1 also writes the README's,
// docs/screenshot.webp. No verdict depends on time: each step waits for
// what it checks, GUARD_MS being only the bound of a hang.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import {
  ARTIFACTS, GUARD_MS, Runner, SONGS, check, chromiumArgs, findChromium, makeCamera, makeMusic,
  readText, removeDir, sh, startServer, tempDir,
} from './support.mjs';

const run = new Runner('browser');
const wait = { timeout: GUARD_MS, polling: 200 };
const TITLES = SONGS.map((s) => s.title);

let dir, server, tokenServer, emptyServer, browser, deniedBrowser, page;
const problems = []; // console errors, page errors, CSP violations: none allowed

// Collects what must not happen on a page: console errors, uncaught
// errors, and Content-Security-Policy violations.
// expect401: the page of a server with a token, whose first call is
// refused until the token is given (Chromium logs that refusal).
function watch(p, label, expect401) {
  p.on('console', (m) => {
    if (expect401 && /status of 401/.test(m.text())) return;
    if (m.type() === 'error' || m.type() === 'assert')
      problems.push(`${label}: console ${m.type()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => problems.push(`${label}: uncaught: ${e.message}`));
  p.on('crash', () => problems.push(`${label}: the page crashed`));
}

// Records every security policy violation, and the mood names the page
// shows, in order, from the moment the page starts.
const pageProbe = () => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation',
                            (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  window.__moods = [];
  window.__said = []; // what the aria-live region announced
  const follow = (id, list) => {
    const el = document.getElementById(id);
    const note = () => {
      const t = el.textContent.trim();
      if (t && list[list.length - 1] !== t) list.push(t);
    };
    note();
    new MutationObserver(note).observe(el, { childList: true, characterData: true, subtree: true });
  };
  document.addEventListener('DOMContentLoaded', () => {
    follow('mood-name', window.__moods);
    follow('announce', window.__said);
  });
};

// Waits until the page has announced (aria-live) words matching re.
const announced = (p, re) => p.waitForFunction(
  (src) => window.__said.some((t) => new RegExp(src).test(t)), re.source, wait);

async function api(path, init) {
  const r = await fetch(server.url + path, init);
  const doc = await r.json();
  check(r.ok, `${path}: ${r.status} ${JSON.stringify(doc)}`);
  return doc;
}

const text = (p, id) => p.locator(`#${id}`).textContent();

// Waits until the element's text is value.
const textIs = (p, id, value) => p.waitForFunction(
  ([i, v]) => document.getElementById(i).textContent === v, [id, value], wait);

// Waits until the audio element plays and its time moves on; the title
// then shown.
async function songPlays(p) {
  const t0 = await p.waitForFunction(() => {
    const a = document.getElementById('audio');
    return !a.paused && a.currentTime > 0.2 && a.currentTime;
  }, null, wait);
  const from = await t0.jsonValue();
  await p.waitForFunction((t) => document.getElementById('audio').currentTime > t + 0.5, from,
                          wait);
  return (await text(p, 'np-title')).trim();
}

async function newPage(b, { listener, label, expect401 = false }) {
  const context = await b.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript((name) => {
    if (name && !localStorage.getItem('emotune.listener'))
      localStorage.setItem('emotune.listener', name);
  }, listener);
  await context.addInitScript(pageProbe);
  context.setDefaultTimeout(GUARD_MS);
  const p = await context.newPage();
  watch(p, label, expect401);
  return p;
}

run.test('the_page_loads_and_its_smoothing_settings_are_saved', async () => {
  await page.goto(server.url + '/');
  check((await page.title()) === 'emotune', 'the page is not emotune');
  await page.waitForFunction(() => document.querySelectorAll('#plane-moods .named').length >= 7,
                             null, wait);
  await page.getByText('Listener and settings').click();
  await page.getByLabel('Smoothing, in seconds').fill('1.5');
  await page.getByLabel('Hold, in seconds').fill('1');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await textIs(page, 'profile-status', 'Saved.');
  const profile = await api('/api/v1/listeners/default/profile');
  check(profile.tau_s === 1.5 && profile.hold_s === 1, `profile ${JSON.stringify(profile)}`);
  await page.getByText('Listener and settings').click();
});

run.test('a_face_box_and_seven_expression_bars_are_drawn_over_the_camera', async () => {
  await page.waitForFunction(() => {
    const box = document.getElementById('face-box'), bars = document.getElementById('bars');
    const r = box.getBoundingClientRect();
    const stage = document.getElementById('stage').getBoundingClientRect();
    return !box.hidden && !bars.hidden && r.width > 10 && r.height > 10 &&
      r.left >= stage.left - 1 && r.right <= stage.right + 1 &&
      bars.querySelectorAll('li').length === 7;
  }, null, wait);
  const video = await page.evaluate(() => {
    const v = document.getElementById('video');
    return { playing: v.srcObject !== null && v.videoWidth > 0,
             transform: getComputedStyle(v).transform };
  });
  check(video.playing, 'the camera picture is not shown');
  check(video.transform.startsWith('matrix(-1'), `the picture is not mirrored: ${video.transform}`);
});

run.test('the_mood_becomes_calm_then_happy_then_no_face', async () => {
  // the fake camera loops: neutral face, happy face, empty room
  await page.waitForFunction(() => {
    const seen = window.__moods;
    const calm = seen.indexOf('calm');
    const happy = calm < 0 ? -1 : seen.indexOf('happy', calm);
    return happy >= 0 && seen.indexOf('no face', happy) >= 0;
  }, null, wait);
  await announced(page, /^Your mood: calm/);
  await announced(page, /^Your mood: happy/);
});

run.test('a_song_plays_and_its_title_is_shown', async () => {
  const title = await songPlays(page);
  check(TITLES.includes(title), `the title shown, "${title}", is none of the library's`);
  const artist = (await text(page, 'np-artist')).trim();
  check(SONGS.some((s) => s.title === title && artist.startsWith(s.artist)),
        `"${title}" shown by "${artist}"`);
  check((await text(page, 'np-reason')).trim().length > 10, 'no reason shown');
  check(await page.locator('#upnext li').count() > 0, 'no next songs shown');
  await announced(page, new RegExp(`^Now playing: ${title}`));
});

run.test('screenshots_at_desktop_and_phone_width', async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // the page in use: a face read as happy, a song playing
  await page.waitForFunction(() => document.getElementById('mood-name').textContent === 'happy' &&
                             !document.getElementById('bars').hidden &&
                             document.getElementById('bars').dataset.top === 'happy', null, wait);
  const desktop = join(ARTIFACTS, 'desktop.png');
  await page.screenshot({ path: desktop });
  if (process.env.EMOTUNE_UPDATE_SCREENSHOT === '1') {
    sh('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', desktop, '-vf', 'scale=1024:-1',
                  '-c:v', 'libwebp', '-quality', '82', 'docs/screenshot.webp']);
    console.log('browser: docs/screenshot.webp updated');
  }
  await page.setViewportSize({ width: 360, height: 780 });
  const phone = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: join(ARTIFACTS, 'phone.png'), fullPage: true });
  check(phone <= 360, `at 360 px wide the page is ${phone} px wide: it scrolls sideways`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

run.test('like_and_skip_are_in_the_listeners_feedback', async () => {
  // a song with time left for two clicks, so that both are on it
  await page.waitForFunction(() => {
    const a = document.getElementById('audio');
    return !a.paused && a.duration - a.currentTime > 10;
  }, null, wait);
  const title = await songPlays(page);
  await page.getByRole('button', { name: 'Like' }).click();
  await page.waitForFunction(() => document.getElementById('like').ariaPressed === 'true', null,
                             wait);
  await page.getByRole('button', { name: 'Skip' }).click();
  await page.waitForFunction((t) => document.getElementById('np-title').textContent !== t, title,
                             wait);
  const { feedback } = await api('/api/v1/listeners/default/feedback?limit=2');
  check(feedback.length === 2, `feedback: ${JSON.stringify(feedback)}`);
  const [skip, like] = feedback; // newest first
  check(skip.kind === 'skip' && like.kind === 'like', `kinds ${skip.kind}, ${like.kind}`);
  check(skip.track === like.track, 'the like and the skip are not on the same song');
  check(skip.at > 0 && skip.at >= like.at, `skip at ${skip.at}, like at ${like.at}`);
  await songPlays(page); // the next song plays
});

run.test('a_song_heard_to_its_end_is_complete_and_the_next_one_follows', async () => {
  const title = await songPlays(page);
  // the listener drags the position near the end: the browser asks for the
  // rest of the file with a Range request
  const ranged = page.waitForResponse((r) => r.url().includes('/audio') && r.status() === 206,
                                      wait);
  await page.evaluate(() => {
    const a = document.getElementById('audio');
    a.currentTime = a.duration - 1.5;
  });
  await ranged;
  await page.waitForFunction((t) => document.getElementById('np-title').textContent !== t, title,
                             wait);
  const { feedback } = await api('/api/v1/listeners/default/feedback?limit=1');
  check(feedback[0].kind === 'complete', `the newest feedback is a ${feedback[0].kind}`);
  await songPlays(page);
});

run.test('the_policy_switch_is_saved_and_the_next_songs_follow_it', async () => {
  const asked = page.waitForRequest((r) => r.url().includes('/next?') &&
                                    r.url().includes('policy=lift'), wait);
  const saved = page.waitForResponse((r) => r.url().endsWith('/listeners/default/profile') &&
                                     r.request().method() === 'PUT', wait);
  await page.getByLabel('lift my mood').check();
  await asked;
  check((await saved).ok(), 'the profile was not saved');
  const profile = await api('/api/v1/listeners/default/profile');
  check(profile.policy === 'lift', `the profile's policy is ${profile.policy}`);
});

run.test('every_control_is_reachable_by_keyboard_with_a_visible_focus', async () => {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const reached = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const seen = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const style = getComputedStyle(e);
      return { id: e.id || e.dataset.mood || e.tagName.toLowerCase(),
               outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
    });
    if (!seen) continue;
    check(seen.outline, `${seen.id} has no visible focus`);
    reached.add(seen.id);
  }
  for (const id of ['camera-toggle', 'like', 'skip', 'happy', 'sad', 'audio'])
    check(reached.has(id), `${id} is not reached by Tab (reached: ${[...reached].join(', ')})`);
  check(reached.has('policy-match') || reached.has('policy-lift') || reached.has('policy-calm'),
        'the policy is not reached by Tab');
});

run.test('no_serious_or_critical_accessibility_violation', async () => {
  const axe = readText('node_modules/axe-core/axe.min.js');
  const report = [];
  for (const [width, scheme] of [[1280, 'light'], [360, 'light'], [1280, 'dark']]) {
    await page.setViewportSize({ width, height: 900 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(axe); // through the debugger: the page's CSP is not loosened
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.help}: ` +
             v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; '));
    });
    violations.forEach((v) => report.push(`${width} px, ${scheme}: ${v}`));
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });
  check(report.length === 0, `axe-core:\n${report.join('\n')}`);
});

run.test('reduced_motion_and_dark_schemes_are_respected', async () => {
  const look = () => page.evaluate(() => ({
    motion: getComputedStyle(document.getElementById('plane-dot')).transitionDuration,
    bg: getComputedStyle(document.body).backgroundColor,
  }));
  await page.emulateMedia({ reducedMotion: 'no-preference', colorScheme: 'light' });
  const normal = await look();
  await page.emulateMedia({ reducedMotion: 'reduce', colorScheme: 'dark' });
  const calm = await look();
  await page.emulateMedia({ reducedMotion: 'no-preference', colorScheme: 'light' });
  check(normal.motion !== '0s' && calm.motion.split(',').every((d) => d.trim() === '0s'),
        `the dot's transition: ${normal.motion}, reduced: ${calm.motion}`);
  check(normal.bg !== calm.bg, `the same background in light and dark: ${normal.bg}`);
});

run.test('a_stated_mood_with_the_camera_off', async () => {
  await page.getByRole('button', { name: 'Turn the camera off' }).click();
  await page.waitForFunction(() => document.getElementById('video').srcObject === null &&
    document.getElementById('camera-toggle').getAttribute('aria-pressed') === 'false', null, wait);
  await page.getByRole('button', { name: 'sad', exact: true }).click();
  await textIs(page, 'mood-name', 'sad');
  const mood = await api('/api/v1/listeners/default/mood');
  check(mood.name === 'sad' && mood.source === 'manual',
        `the server's mood: ${JSON.stringify(mood)}`);
  await page.waitForFunction(() => document.getElementById('upnext').textContent.includes('sad'),
                             null, wait);
  // a point clicked on the plane: happy's
  const box = await page.locator('#plane').boundingBox();
  const vb = { x: -1.3, y: -1.22, w: 2.6, h: 2.44 }; // index.html's viewBox
  const scale = Math.min(box.width / vb.w, box.height / vb.h);
  const left = box.x + (box.width - vb.w * scale) / 2;
  const top = box.y + (box.height - vb.h * scale) / 2;
  await page.mouse.click(left + (0.8 - vb.x) * scale, top + (-0.5 - vb.y) * scale);
  await textIs(page, 'mood-name', 'happy');
});

run.test('a_denied_camera_offers_the_stated_mood_and_songs_play', async () => {
  const p = await newPage(deniedBrowser, { listener: 'nocamera', label: 'camera denied' });
  await p.goto(server.url + '/');
  await p.waitForFunction(() => /refused|No camera/.test(
    document.getElementById('camera-status').textContent), null, wait);
  check(await p.evaluate(() => document.getElementById('video').srcObject === null),
        'a picture is shown without a camera');
  await p.getByRole('button', { name: 'happy', exact: true }).click();
  await textIs(p, 'mood-name', 'happy');
  const title = await songPlays(p);
  check(TITLES.includes(title), `"${title}" is none of the library's`);
  await p.context().close();
});

run.test('a_server_with_a_token_has_the_page_ask_for_it', async () => {
  const token = 'browser-test-token-0123456789';
  mkdirSync(join(dir, 'token'));
  tokenServer = await startServer({ dir: join(dir, 'token'), music: join(dir, 'music'), token });
  const p = await newPage(browser, { listener: 'tokened', label: 'token', expect401: true });
  await p.goto(tokenServer.url + '/');
  await p.waitForFunction(() => !document.getElementById('token-row').hidden &&
                          document.activeElement === document.getElementById('token'), null, wait);
  await p.getByLabel('Server token').fill(token);
  await p.getByRole('button', { name: 'Use this listener' }).click();
  await p.getByRole('button', { name: 'Turn the camera off' }).click(); // it started with the token
  await p.getByRole('button', { name: 'calm', exact: true }).click();
  const title = await songPlays(p); // the audio with ?access_token=
  check(TITLES.includes(title), `"${title}" is none of the library's`);
  const r = await fetch(`${tokenServer.url}/api/v1/listeners/tokened/mood`,
                        { headers: { Authorization: `Bearer ${token}` } });
  check(r.ok && (await r.json()).name === 'calm', 'the stated mood did not reach the server');
  await p.context().close();
});

run.test('an_empty_library_says_how_to_add_music_and_a_scan_brings_songs', async () => {
  const music = join(dir, 'empty', 'music');
  mkdirSync(music, { recursive: true });
  emptyServer = await startServer({ dir: join(dir, 'empty'), music });
  const p = await newPage(browser, { listener: 'newcomer', label: 'empty library' });
  await p.goto(emptyServer.url + '/');
  await p.waitForFunction(() => !document.getElementById('library-empty').hidden &&
    !document.getElementById('scan').hidden, null, wait);
  check((await text(p, 'library-empty')).includes('--music'), 'no word on how to add music');
  await p.getByRole('button', { name: 'happy', exact: true }).click();
  sh('cp', [join(dir, 'music', 'song1.ogg'), join(dir, 'music', 'song2.ogg'), music]);
  await p.getByRole('button', { name: 'Scan the music folders' }).click();
  const title = await songPlays(p);
  check([SONGS[0].title, SONGS[1].title].includes(title), `"${title}" was not scanned`);
  check(await p.locator('#library-empty').isHidden(), 'the empty library notice stays');
  await p.context().close();
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
    const music = join(dir, 'music');
    makeMusic(music);
    const video = makeCamera(dir);
    server = await startServer({ dir, music });
    browser = await chromium.launch({ executablePath: exe, headless: true,
                                      args: chromiumArgs({ video, fakeUi: true }) });
    deniedBrowser = await chromium.launch({ executablePath: exe, headless: true,
                                            args: chromiumArgs({ video, fakeUi: false }) });
    page = await newPage(browser, { listener: 'default', label: 'page' });
  } catch (e) {
    await cleanup();
    return run.setupFailed(e);
  }
  const rc = await run.run();
  await cleanup();
  return rc;
}

async function cleanup() {
  for (const b of [browser, deniedBrowser]) if (b) await b.close().catch(() => {});
  for (const s of [server, tokenServer, emptyServer]) {
    if (!s) continue;
    const code = await s.stop();
    if (code !== 0) console.log(`emotune serve stopped with ${code}:\n${s.log()}`);
  }
  removeDir(dir);
}

process.exitCode = await main();
