// The Calibrate panel: emotune learns the listener's own face. It asks for a
// few expressions in turn (or one), a few seconds each, and posts a few
// frames of each to the listener's calibration (.../calibration?expression=),
// which keeps the face's features, never the picture; from then on the
// listener's frames are read through it. A mood the listener states by hand
// while the camera sees their face also posts that frame (moodExpression).

// The guided calibration: what the listener is asked for, in turn.
export const STEPS = [
  { expression: 'neutral', ask: 'Relax your face: a neutral look.' },
  { expression: 'happy', ask: 'Smile.' },
  { expression: 'sad', ask: 'Look sad.' },
  { expression: 'angry', ask: 'Look angry, or tense.' },
  { expression: 'surprised', ask: 'Look surprised.' },
];

export const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted',
                            'surprised'];

// A stated mood as the expression a face shows (the face-to-mood table of
// src/mood/mood.h, backwards); energetic and excited have no one face: none.
const MOOD_EXPRESSION = {
  happy: 'happy', calm: 'neutral', sad: 'sad', angry: 'angry', tense: 'fearful',
  disgusted: 'disgusted', surprised: 'surprised',
};
export const moodExpression = (mood) => MOOD_EXPRESSION[mood] || null;

// Each expression: a moment to show it, then this many frames this far apart.
const PREPARE_MS = 1500;
const FRAMES = 3;
const FRAME_GAP_MS = 600;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export class Calibration {
  // ui: {panel, start, stop, forget, one (a box for the one-expression
  // buttons), ask, progress, counts, status}; camera: the page's Camera;
  // say(text): an announcement.
  constructor({ ui, api, camera, say }) {
    this.ui = ui;
    this.api = api;
    this.camera = camera;
    this.say = say;
    this.canvas = document.createElement('canvas');
    this.run = 0;
    this.running = false;
    this.max = 20;
    this.rows = new Map();
    for (const name of EXPRESSIONS) {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.dataset.expression = name;
      dd.textContent = '0';
      ui.counts.append(dt, dd);
      this.rows.set(name, dd);
    }
    for (const name of EXPRESSIONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chip';
      b.textContent = name;
      b.dataset.expression = name;
      b.setAttribute('aria-label', `Teach ${name}`);
      b.addEventListener('click', () => this.start([STEPS.find((s) => s.expression === name) ||
                                                    { expression: name, ask: `Look ${name}.` }]));
      ui.one.append(b);
    }
    ui.start.addEventListener('click', () => this.start(STEPS));
    ui.stop.addEventListener('click', () => this.stop('Calibration stopped.'));
    ui.forget.addEventListener('click', () => this.forget());
  }

  // The counts as the server gives them ({counts, total, max_per_expression, in_use}).
  show(doc) {
    if (!doc || !doc.counts) return;
    this.max = doc.max_per_expression || this.max;
    for (const [name, dd] of this.rows) dd.textContent = String(doc.counts[name] || 0);
    this.ui.panel.dataset.total = String(doc.total || 0);
    this.ui.forget.disabled = !doc.total;
  }

  async refresh() {
    try {
      this.show(await this.api.get(this.api.mine('calibration')));
    } catch (e) {
      this.ui.status.textContent = `The calibration could not be read: ${e.message}`;
    }
  }

  setBusy(busy) {
    this.running = busy;
    this.ui.start.disabled = busy;
    this.ui.stop.disabled = !busy;
    for (const b of this.ui.one.querySelectorAll('button')) b.disabled = busy;
  }

  stop(why) {
    this.run++;
    this.setBusy(false);
    this.ui.ask.textContent = '';
    if (why) this.ui.status.textContent = why;
  }

  // Posts the camera's current picture as an example of `expression`: the
  // server's reply, or null (the reason in the status line).
  async post(expression) {
    const frame = await this.camera.grab(this.canvas);
    if (!frame) return null;
    try {
      const doc = await this.api.call('POST',
                                      this.api.mine(`calibration?expression=${expression}`),
                                      { body: frame.blob, type: 'image/jpeg' });
      this.show(doc);
      return doc;
    } catch (e) {
      this.ui.status.textContent = e.status === 400 ? `Not taken: ${e.message}`
                                                    : `The calibration failed: ${e.message}`;
      return null;
    }
  }

  async start(steps) {
    if (this.running) return;
    if (!this.camera.on) {
      this.ui.status.textContent = 'Turn the camera on first: calibration learns from it.';
      return;
    }
    const run = ++this.run;
    this.setBusy(true);
    const total = steps.length * FRAMES;
    let done = 0, taken = 0;
    this.ui.progress.max = total;
    this.ui.progress.value = 0;
    this.ui.status.textContent = '';
    for (const step of steps) {
      this.ui.ask.textContent = step.ask;
      this.say(step.ask);
      await sleep(PREPARE_MS);
      for (let i = 0; i < FRAMES; i++) {
        if (run !== this.run) return;
        if (await this.post(step.expression)) taken++;
        if (run !== this.run) return;
        this.ui.progress.value = ++done;
        if (i < FRAMES - 1) await sleep(FRAME_GAP_MS);
      }
    }
    this.setBusy(false);
    this.ui.ask.textContent = '';
    const words = `Calibration done: ${taken} of ${total} pictures taken.`;
    this.ui.status.textContent = words;
    this.say(words);
  }

  // A mood stated by hand while the camera sees a face: that frame is an
  // example of the mood's expression. Quiet when it cannot be.
  async stated(mood, faceSeen) {
    const expression = moodExpression(mood);
    if (!expression || !faceSeen || !this.camera.on || this.running) return;
    const doc = await this.post(expression);
    if (doc) this.ui.status.textContent = `Your face was kept as an example of ${expression}.`;
  }

  async forget() {
    this.stop('');
    try {
      this.show(await this.api.del(this.api.mine('calibration')));
      this.ui.status.textContent = 'Your calibration is forgotten.';
      this.say('Calibration forgotten');
    } catch (e) {
      this.ui.status.textContent = `Not forgotten: ${e.message}`;
    }
  }
}
