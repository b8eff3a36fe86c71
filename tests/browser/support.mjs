// Support for the browser tests: Debian's chromium found on this machine,
// a cmocka-style runner (so scripts/run-tests.sh counts each test, see
// scripts/count-cmocka.awk), the real server started on a free port, a
// library of generated audio and a fake camera video made from real faces.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The repository root (tests run from it) and what they use there.
export const ROOT = process.cwd();
export const BIN = process.env.EMOTUNE_TEST_BIN || 'build/emotune';
export const MODELS = process.env.EMOTUNE_TEST_MODELS || 'build/models';
export const DEMO = 'node_modules/@vladmandic/face-api/demo';
export const ARTIFACTS = 'build/browser';

// A guard against a hang, never a verdict: conditions are waited for, and
// only a test that never sees its condition fails at this bound.
export const GUARD_MS = Number(process.env.EMOTUNE_BROWSER_GUARD_MS) || 180_000;

// The system's Chromium (Debian's package `chromium`): its binary, or null.
// $CHROMIUM names another. Nothing is ever downloaded.
export function findChromium() {
  const candidates = [process.env.CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium',
                      '/usr/bin/chromium-browser'].filter(Boolean);
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // the next one
    }
  }
  return null;
}

// The flags every launch takes; fakeUi: the camera is granted without asking.
export function chromiumArgs({ video, fakeUi }) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream',
                `--use-file-for-fake-video-capture=${video}`,
                '--autoplay-policy=no-user-gesture-required', '--mute-audio'];
  if (fakeUi) args.push('--use-fake-ui-for-media-stream');
  return args;
}

// Runs a command; its stdout, or an Error with its stderr.
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr || r.error || ''}`);
  return r.stdout;
}

export function tempDir() {
  return mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'emotune-browser-'));
}

export function removeDir(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

// Songs of 40 s (the recommender leaves out files under 30 s), two tones
// each, tagged with a title and an artist: Ogg Vorbis, which Chromium plays.
export const SONGS = [
  { title: 'Morning Light', artist: 'The Test Tones', hz: 440 },
  { title: 'Slow River', artist: 'Sine Quartet', hz: 220 },
  { title: 'Paper Kites', artist: 'The Test Tones', hz: 523 },
  { title: 'Night Drive', artist: 'Lavfi', hz: 330 },
  { title: 'Glass Garden', artist: 'Sine Quartet', hz: 392 },
  { title: 'Long Weekend', artist: 'Oscillators', hz: 294 },
];

export function makeMusic(dir) {
  sh('mkdir', ['-p', dir]);
  SONGS.forEach((s, i) => {
    const src = (hz) => `sine=frequency=${hz}:sample_rate=22050:duration=40`;
    sh('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi',
                  '-i', src(s.hz), '-f', 'lavfi', '-i', src(Math.round(s.hz * 1.25)),
                  '-filter_complex', 'amix=inputs=2,volume=0.5', '-c:a', 'libvorbis',
                  '-q:a', '1', '-metadata', `title=${s.title}`, '-metadata', `artist=${s.artist}`,
                  join(dir, `song${i + 1}.ogg`)]);
  });
}

// The fake camera: frames cut from face-api's demo pictures, checked with
// `emotune detect` before use (one face, neutral; one face, happy; no
// face: a blurred corner of a picture), as a y4m video Chromium loops:
// a neutral face, then a happy one, then an empty room.
const CAMERA = { width: 480, height: 360, fps: 5 };
export const SCENES = [
  { name: 'neutral', picture: 'sample4.jpg', crop: '640:480:431:0', seconds: 10, want: 'neutral' },
  { name: 'happy', picture: 'sample3.jpg', crop: '800:600:767:100', seconds: 10, want: 'happy' },
  { name: 'empty', picture: 'sample2.jpg', crop: '800:600:100:500', blur: true, seconds: 6,
    want: null },
];

export function makeCamera(dir) {
  const stills = SCENES.map((scene) => {
    const still = join(dir, `${scene.name}.jpg`);
    const vf = [`crop=${scene.crop}`, `scale=${CAMERA.width}:${CAMERA.height}`];
    if (scene.blur) vf.push('gblur=sigma=20');
    sh('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', join(DEMO, scene.picture),
                  '-vf', vf.join(','), '-q:v', '3', still]);
    const seen = JSON.parse(sh(BIN, ['detect', '--json', '--models', MODELS, still]));
    const faces = seen.faces.length;
    const top = faces ? seen.faces[0].expression : null;
    if (scene.want ? faces !== 1 || top !== scene.want : faces !== 0) {
      const want = scene.want ? `one ${scene.want}` : 'none';
      throw new Error(`${scene.name} scene (${scene.picture}): emotune sees ${faces} face(s)` +
                      `${top ? ', ' + top : ''}; the test wants ${want}`);
    }
    return still;
  });
  const video = join(dir, 'camera.y4m');
  const inputs = [];
  SCENES.forEach((scene, i) => inputs.push('-loop', '1', '-framerate', String(CAMERA.fps),
                                           '-t', String(scene.seconds), '-i', stills[i]));
  const chain = SCENES.map((_, i) => `[${i}:v]setsar=1[v${i}]`).join(';') + ';' +
    SCENES.map((_, i) => `[v${i}]`).join('') + `concat=n=${SCENES.length}:v=1:a=0,format=yuv420p`;
  sh('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', chain,
                '-r', String(CAMERA.fps), video]);
  return video;
}

// `emotune serve` on a free loopback port with a real LMDB store and the
// music folder scanned in the background; resolves once it listens.
export function startServer({ dir, music, token }) {
  const args = ['serve', '--listen', '127.0.0.1:0', '--store', `lmdb:${join(dir, 'store')}`,
                '--models', MODELS, '--web', 'web', '--music', music, '--scan-jobs', '1'];
  if (token) args.push('--token', token);
  const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const guard = setTimeout(() => reject(new Error(`emotune serve did not start:\n${log}`)),
                             GUARD_MS);
    proc.on('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`emotune serve exited (${code}):\n${log}`));
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(out);
      if (!m) return;
      clearTimeout(guard);
      proc.removeAllListeners('exit');
      resolve({
        url: m[1],
        log: () => log,
        // SIGINT, as Ctrl-C: the server finishes and closes its store
        stop: () => new Promise((done) => {
          if (proc.exitCode !== null) return done(proc.exitCode);
          proc.on('exit', (code) => done(code));
          proc.kill('SIGINT');
        }),
      });
    });
  });
}

// A cmocka-style runner: the lines scripts/count-cmocka.awk counts.
export class Runner {
  constructor(group) {
    this.group = group;
    this.tests = [];
  }

  test(name, fn) { this.tests.push({ name, fn }); }

  announce() { console.log(`[==========] Running ${this.tests.length} test(s).`); }

  // Every test skipped, with the reason.
  skipAll(why) {
    this.announce();
    for (const t of this.tests) {
      console.log(`[ RUN      ] ${t.name}`);
      console.log(`SKIP: ${why}`);
      console.log(`[  SKIPPED ] ${t.name}`);
    }
    return 0;
  }

  // A set-up that failed: cmocka's group set-up failure, every test failed.
  setupFailed(e) {
    this.announce();
    console.log(`${this.group}: set-up failed: ${e && e.stack ? e.stack : e}`);
    console.log('[  FAILED  ] GROUP SETUP');
    return 1;
  }

  async run() {
    this.announce();
    let failed = 0;
    for (const t of this.tests) {
      console.log(`[ RUN      ] ${t.name}`);
      try {
        await t.fn();
        console.log(`[       OK ] ${t.name}`);
      } catch (e) {
        failed++;
        console.log(`[  ERROR   ] --- ${e && e.stack ? e.stack : e}`);
        console.log(`[  FAILED  ] ${t.name}`);
      }
    }
    const passed = this.tests.length - failed;
    console.log(`[==========] ${this.tests.length} test(s) run.`);
    console.log(`[  PASSED  ] ${passed} test(s).`);
    if (failed) console.log(`[  FAILED  ] ${failed} test(s).`);
    return failed ? 1 : 0;
  }
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

export function readText(path) {
  return readFileSync(path, 'utf8');
}
