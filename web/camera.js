// The camera: the live picture (mirrored, as a mirror shows a face), and a
// downscaled JPEG of it posted to the listener's frames a few times a second,
// one at a time: the next frame is taken only once the server has answered
// the last, so a slow server lowers the rate instead of piling up requests.

// Frames at most this often (ms); the server answers 429 past 15 a second.
const FRAME_MS = 250;
// The posted frame's width: the camera's, within these bounds (px).
const MIN_WIDTH = 320;
const MAX_WIDTH = 480;
const JPEG_QUALITY = 0.8;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// Why the camera could not start, in words for the listener.
export function cameraProblem(e) {
  switch (e && e.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was refused. Say how you feel below, and emotune plays songs for it.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Say how you feel below, and emotune plays songs for it.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera is in use by another program, or failed. Say how you feel below.';
    case 'NoMediaDevices':
      return 'This browser gives no camera to this page (it needs https, or localhost). ' +
             'Say how you feel below.';
    default:
      return `The camera could not start (${e && e.message ? e.message : 'unknown error'}). ` +
             'Say how you feel below.';
  }
}

export class Camera {
  // api: an Api; onReply(reply, width, height): a frame's answer;
  // onError(e): a frame that failed.
  constructor({ video, api, onReply, onError }) {
    this.video = video;
    this.api = api;
    this.onReply = onReply;
    this.onError = onError;
    this.stream = null;
    this.run = 0; // a new run each start: an old loop stops when it sees it
    this.canvas = document.createElement('canvas');
    this.sent = 0;
  }

  get on() { return this.stream !== null; }

  // Asks for the camera and starts posting frames; throws what
  // getUserMedia threw (cameraProblem says it in words).
  async start() {
    if (this.stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const e = new Error('no mediaDevices');
      e.name = 'NoMediaDevices';
      throw e;
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
    });
    this.stream = stream;
    this.video.srcObject = stream;
    try {
      await this.video.play();
    } catch {
      // muted inline video plays without a gesture; if not, frames still come
    }
    const run = ++this.run;
    this.loop(run);
  }

  // Stops at once: every track ends (the camera's light goes off) and no
  // frame is posted after the one in flight.
  stop() {
    this.run++;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  // The current picture as a JPEG, with its size; null when none yet.
  // canvas: where to draw it (another one for another user of the camera).
  async grab(canvas = this.canvas) {
    const v = this.video;
    if (v.readyState < 2 || !v.videoWidth) return null;
    const width = Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, v.videoWidth)));
    const height = Math.round(width * v.videoHeight / v.videoWidth);
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').drawImage(v, 0, 0, width, height);
    const blob = await new Promise((done) => canvas.toBlob(done, 'image/jpeg', JPEG_QUALITY));
    return blob ? { blob, width, height } : null;
  }

  async loop(run) {
    while (run === this.run) {
      const began = performance.now();
      let wait = FRAME_MS;
      const frame = document.hidden ? null : await this.grab();
      if (frame && run === this.run) {
        // the capture time on this page's clock, which only goes forward
        const t = ((performance.timeOrigin + began) / 1000).toFixed(3);
        try {
          const reply = await this.api.call('POST', this.api.mine(`frames?t=${t}`),
                                            { body: frame.blob, type: 'image/jpeg' });
          this.sent++;
          if (run === this.run) this.onReply(reply, frame.width, frame.height);
        } catch (e) {
          if (run !== this.run) break;
          wait = e.status === 429 ? Math.max(1, e.retryAfter) * 1000 : 2000;
          this.onError(e);
        }
      }
      const rest = wait - (performance.now() - began);
      if (rest > 0) await sleep(rest);
    }
  }
}

// The seven expressions, in the order the face model gives them.
export const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted',
                            'surprised'];

// Draws the largest face's box (mirrored, as the picture is) and its seven
// expression bars over the picture; hides both when there is no face.
export class Overlay {
  constructor({ box, bars }) {
    this.box = box;
    this.bars = bars;
    this.rows = new Map();
    for (const name of EXPRESSIONS) {
      const li = document.createElement('li');
      const label = document.createElement('span');
      label.className = 'bar-name';
      label.textContent = name;
      const track = document.createElement('span');
      track.className = 'bar-track';
      const fill = document.createElement('span');
      fill.className = `bar-fill bar-${name}`;
      track.append(fill);
      const value = document.createElement('span');
      value.className = 'bar-value';
      li.append(label, track, value);
      bars.append(li);
      this.rows.set(name, { fill, value });
    }
  }

  clear() {
    this.box.hidden = true;
    this.bars.hidden = true;
  }

  show(face, width, height) {
    if (!face) {
      this.clear();
      return;
    }
    const b = face.box;
    const pct = (v) => `${(100 * Math.min(1, Math.max(0, v))).toFixed(2)}%`;
    // mirrored: the picture is shown flipped left to right
    this.box.style.left = pct(1 - (b.x + b.width) / width);
    this.box.style.top = pct(b.y / height);
    this.box.style.width = pct(b.width / width);
    this.box.style.height = pct(b.height / height);
    this.box.hidden = false;
    // the bars in the top corner away from the face, so they hide less of it
    const centre = 1 - (b.x + b.width / 2) / width;
    this.bars.classList.toggle('bars-right', centre < 0.5);
    for (const name of EXPRESSIONS) {
      const p = Math.min(1, Math.max(0, face.expressions[name] || 0));
      const row = this.rows.get(name);
      row.fill.style.width = pct(p);
      row.value.textContent = `${Math.round(100 * p)}%`;
    }
    this.bars.dataset.top = face.expression;
    this.bars.hidden = false;
  }
}
