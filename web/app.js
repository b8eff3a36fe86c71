// emotune's page: the camera reads the listener's face, the server turns it
// into a mood, and the player plays songs that fit. No framework, no build
// step: ES modules served by emotune itself.
import { Api, NAME_RULE, stored, store } from './api.js';
import { Calibration } from './calibrate.js';
import { Camera, Overlay, cameraProblem } from './camera.js';
import { Plane, describeMood } from './mood.js';
import { Player } from './player.js';

const $ = (id) => document.getElementById(id);
const CAMERA_KEY = 'emotune.camera';
const FOLLOW_KEY = 'emotune.follow-now';
const LIBRARY_POLL_MS = 1500;

const api = new Api();
// What this server answers (from its OpenAPI document): an older server
// may lack some routes, and the page does without them.
const features = { audio: false, trackInfo: false, manualMood: false, feedbackList: false,
                   calibration: false };

const state = {
  moodName: null,    // the named mood songs follow (never "unknown")
  manual: false,     // the mood is one the listener stated
  cameraMood: null,  // the camera's last reading
  faceSeen: false,   // the camera's last frame had a face
  tracks: 0,         // songs in the library
  ready: false,
};

// ---- announcements and status lines ----------------------------------------

let sayTimer = 0;
function say(text) {
  const region = $('announce');
  region.textContent = '';
  clearTimeout(sayTimer);
  // a moment later, so the same words twice are announced twice
  sayTimer = setTimeout(() => { region.textContent = text; }, 50);
}

const statusOf = (id) => (text) => { $(id).textContent = text; };
const cameraStatus = statusOf('camera-status');
const moodStatus = statusOf('mood-status');
const playerStatus = statusOf('player-status');

// ---- mood --------------------------------------------------------------------

const plane = new Plane($('plane'), (point) => stateMood(point));

function showMood(m) {
  const words = describeMood(m);
  $('mood-name').textContent = words.name;
  $('mood-detail').textContent = words.detail;
  $('mood').dataset.mood = words.name;
  const named = m && m.name !== 'unknown' && m.has_face !== false;
  plane.highlight(named ? m.name : null);
  if (m) plane.show(m, { stated: state.manual, faded: !named });
  else plane.show(null);
}

// A mood the songs follow: a new name is announced, and the player follows.
function moodIs(m) {
  const name = m && m.name !== 'unknown' && m.has_face !== false ? m.name : null;
  if (!name || name === state.moodName) return;
  const first = state.moodName === null;
  state.moodName = name;
  say(`Your mood: ${name}${state.manual ? ', as you said' : ''}`);
  if (first) maybeStartMusic();
  else player.moodChanged($('follow-now').checked);
}

function onFrame(reply, width, height) {
  const faces = reply.faces || [];
  state.faceSeen = faces.length > 0;
  overlay.show(faces[0], width, height);
  $('stage-msg').hidden = faces.length > 0;
  $('stage-msg').textContent = 'No face in view.';
  state.cameraMood = reply.mood;
  if (state.manual) {
    const seen = describeMood(reply.mood).name;
    $('mood-detail').textContent = `as you said (the camera sees: ${seen})`;
    return;
  }
  showMood(reply.mood);
  moodIs(reply.mood);
}

async function stateMood(body) {
  if (!features.manualMood) {
    moodStatus('This server cannot take a stated mood.');
    return;
  }
  try {
    const m = await api.put(api.mine('mood'), body);
    state.manual = true;
    if (features.calibration) calibration.stated(m.name, state.faceSeen);
    $('manual-clear').disabled = false;
    showMood(m);
    moodStatus('');
    if (m.name === state.moodName) return;
    moodIs(m);
  } catch (e) {
    moodStatus(`Your mood was not taken: ${e.message}`);
  }
}

async function clearMood() {
  try {
    await api.del(api.mine('mood'));
    state.manual = false;
    $('manual-clear').disabled = true;
    say('Your mood comes from your face again');
    if (state.cameraMood) {
      showMood(state.cameraMood);
      moodIs(state.cameraMood);
    } else {
      showMood(null);
    }
    moodStatus(camera.on ? '' : 'Turn the camera on for emotune to read your mood.');
  } catch (e) {
    moodStatus(`The stated mood was not cleared: ${e.message}`);
  }
}

function manualButtons(moods) {
  const box = $('manual-moods');
  box.replaceChildren();
  for (const m of moods) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.textContent = m.name;
    b.dataset.mood = m.name;
    b.addEventListener('click', () => stateMood({ mood: m.name }));
    box.append(b);
  }
}

// ---- camera -----------------------------------------------------------------

const overlay = new Overlay({ box: $('face-box'), bars: $('bars') });
const camera = new Camera({
  video: $('video'),
  api,
  onReply: onFrame,
  onError: (e) => cameraStatus(`A frame was not read: ${e.message}`),
});

function showCamera(on) {
  const b = $('camera-toggle');
  b.setAttribute('aria-pressed', String(on));
  b.textContent = on ? 'Turn the camera off' : 'Turn the camera on';
  $('stage').classList.toggle('live', on);
  if (!on) {
    overlay.clear();
    $('stage-msg').hidden = false;
    $('stage-msg').textContent = 'The camera is off.';
  }
}

async function cameraOn() {
  cameraStatus('Asking for the camera\u2026');
  try {
    await camera.start();
    showCamera(true);
    $('stage-msg').textContent = 'Looking for your face\u2026';
    cameraStatus('The camera is on: emotune reads your expressions a few times a second.');
    store(CAMERA_KEY, 'on');
  } catch (e) {
    showCamera(false);
    cameraStatus(cameraProblem(e));
    $('stage-msg').textContent = 'No camera.';
    $('manual').classList.add('offered');
  }
}

function cameraOff() {
  camera.stop();
  showCamera(false);
  cameraStatus('The camera is off (its light too). Say how you feel to choose the songs.');
  store(CAMERA_KEY, 'off');
  say('Camera off');
}

const calibration = new Calibration({
  ui: {
    panel: $('calibrate'), start: $('calibrate-start'), stop: $('calibrate-stop'),
    forget: $('calibrate-forget'), one: $('calibrate-one'), ask: $('calibrate-ask'),
    progress: $('calibrate-progress'), counts: $('calibrate-counts'),
    status: $('calibrate-status'),
  },
  api,
  camera,
  say,
});

// ---- music --------------------------------------------------------------------

const player = new Player({
  ui: {
    audio: $('audio'), play: $('play'), like: $('like'), skip: $('skip'), title: $('np-title'),
    artist: $('np-artist'), reason: $('np-reason'), link: $('np-link'), cover: $('cover'),
    upnext: $('upnext'),
  },
  api,
  say,
  status: playerStatus,
  features,
});

function maybeStartMusic() {
  if (!state.ready || !state.moodName) return;
  if (state.tracks > 0) player.start();
}

let libraryTimer = 0;
// The library's size; an empty one says how to add music, and is watched
// until songs come (a scan at start, or one asked for here).
async function watchLibrary() {
  clearTimeout(libraryTimer);
  let health;
  try {
    const r = await fetch('/healthz', { cache: 'no-store' });
    health = await r.json();
  } catch {
    playerStatus('The emotune server cannot be reached.');
    libraryTimer = setTimeout(watchLibrary, LIBRARY_POLL_MS * 4);
    return;
  }
  state.tracks = health.tracks || 0;
  const empty = state.tracks === 0;
  $('library-empty').hidden = !empty;
  if (!empty) {
    maybeStartMusic();
    return;
  }
  let scan = null;
  try {
    scan = await api.get('/api/v1/library/scan');
  } catch {
    scan = null;
  }
  const folders = scan && Array.isArray(scan.folders) ? scan.folders : [];
  const running = scan && scan.state === 'running';
  $('scan').hidden = folders.length === 0 || running;
  $('library-empty-text').textContent = running
    ? 'Your music is being scanned; songs come as soon as the first ones are analysed.'
    : folders.length
      ? 'No songs were found in the music folders yet.'
      : 'Your library has no songs yet.';
  $('scan-status').textContent = running
    ? `Scanning: ${scan.done || 0} of ${scan.files || 0} files.` : '';
  libraryTimer = setTimeout(watchLibrary, LIBRARY_POLL_MS);
}

async function scanNow() {
  try {
    await api.post('/api/v1/library/scan');
    $('scan').hidden = true;
    $('scan-status').textContent = 'Scanning started.';
    watchLibrary();
  } catch (e) {
    $('scan-status').textContent = `The scan did not start: ${e.message}`;
  }
}

// ---- listener and settings ---------------------------------------------------

async function loadProfile() {
  try {
    const p = await api.get(api.mine('profile'));
    $('tau').value = p.tau_s;
    $('hold').value = p.hold_s;
    const radio = $(`policy-${p.policy}`);
    if (radio) radio.checked = true;
    player.policy = p.policy;
  } catch (e) {
    $('profile-status').textContent = `The settings could not be read: ${e.message}`;
  }
}

async function saveProfile(ev) {
  ev.preventDefault();
  const tau = Number($('tau').value), hold = Number($('hold').value);
  store(FOLLOW_KEY, $('follow-now').checked ? '1' : '0');
  try {
    await api.put(api.mine('profile'), { tau_s: tau, hold_s: hold });
    $('profile-status').textContent = 'Saved.';
  } catch (e) {
    $('profile-status').textContent = `Not saved: ${e.message}`;
  }
}

async function setPolicy(policy) {
  player.setPolicy(policy);
  try {
    await api.put(api.mine('profile'), { policy });
    say(`Songs that ${$(`policy-${policy}`).nextElementSibling.textContent}`);
  } catch (e) {
    playerStatus(`The choice was not saved: ${e.message}`);
  }
}

// The mood known before this visit: a stated one, else the history's newest.
async function loadMood() {
  try {
    const h = await api.get(api.mine('history?limit=1'));
    const newest = h && (h.moods || h.history || h.items || [])[0];
    if (!newest) {
      showMood(null);
      return;
    }
    const m = await api.get(api.mine('mood'));
    state.manual = m.source === 'manual';
    $('manual-clear').disabled = !state.manual;
    showMood(m);
    moodIs(m);
  } catch (e) {
    showMood(null);
    if (e.status !== 404) moodStatus(`Your mood could not be read: ${e.message}`);
  }
}

async function useListener(ev) {
  ev.preventDefault();
  const name = $('listener').value.trim();
  if (!NAME_RULE.test(name)) {
    $('listener').setAttribute('aria-invalid', 'true');
    $('profile-status').textContent = 'That listener name is not allowed.';
    return;
  }
  $('listener').removeAttribute('aria-invalid');
  if (!$('token-row').hidden) api.setToken($('token').value.trim());
  api.setListener(name);
  state.moodName = null;
  state.manual = false;
  state.cameraMood = null;
  calibration.stop('');
  plane.resetTrail();
  player.reset();
  say(`Listening as ${name}`);
  await start();
}

// ---- start --------------------------------------------------------------------

async function loadFeatures() {
  const doc = await api.get('/api/v1/openapi.json');
  const paths = doc.paths || {};
  const has = (p, m) => Boolean(paths[p] && paths[p][m]);
  features.audio = has('/api/v1/tracks/{id}/audio', 'get');
  features.trackInfo = has('/api/v1/tracks/{id}', 'get');
  features.manualMood = has('/api/v1/listeners/{name}/mood', 'put');
  features.feedbackList = has('/api/v1/listeners/{name}/feedback', 'get');
  features.calibration = has('/api/v1/listeners/{name}/calibration', 'post');
}

// Reads what the page needs from the server; false when it cannot (a
// token is wanted: its field is shown, and this runs again once it is given).
async function init() {
  state.ready = false;
  $('listener').value = api.listener;
  $('token').value = api.token;
  try {
    await loadFeatures();
  } catch (e) {
    if (e.status !== 401) playerStatus(`The emotune server cannot be reached: ${e.message}`);
    return false;
  }
  try {
    const { moods } = await api.get('/api/v1/moods');
    plane.setMoods(moods);
    manualButtons(moods);
  } catch (e) {
    moodStatus(`The moods could not be read: ${e.message}`);
  }
  $('manual').disabled = !features.manualMood;
  $('calibrate').hidden = !features.calibration;
  if (features.calibration) await calibration.refresh();
  await loadProfile();
  await loadMood();
  state.ready = true;
  await watchLibrary();
  return true;
}

// The page for the listener, and the camera unless it was turned off.
async function start() {
  if (!(await init()) || camera.on) return;
  if (stored(CAMERA_KEY, 'on') !== 'off') cameraOn();
  else cameraStatus('The camera is off. Turn it on for emotune to read your mood.');
}

function wire() {
  $('camera-toggle').addEventListener('click', () => (camera.on ? cameraOff() : cameraOn()));
  $('manual-clear').addEventListener('click', clearMood);
  $('scan').addEventListener('click', scanNow);
  $('listener-form').addEventListener('submit', useListener);
  $('profile-form').addEventListener('submit', saveProfile);
  $('follow-now').checked = stored(FOLLOW_KEY, '0') === '1';
  for (const r of document.querySelectorAll('input[name="policy"]'))
    r.addEventListener('change', () => r.checked && setPolicy(r.value));
  api.onUnauthorised = () => {
    if (!$('token-row').hidden) {
      playerStatus('The server did not take this token: check it under "Listener and settings".');
      return;
    }
    $('token-row').hidden = false;
    $('settings').open = true;
    $('token').focus();
    playerStatus('This server needs its token: give it under "Listener and settings".');
  };
}

wire();
start();
