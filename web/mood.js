// The valence/arousal plane: the named moods marked (their points come from
// the server, GET /api/v1/moods, which reads emotune's one table), the
// listener's mood as a dot with a short trail, and a click that states a
// mood at a point.

const SVG = 'http://www.w3.org/2000/svg';
const TRAIL = 12; // points kept in the trail
const LABEL_H = 0.09; // a label's height in plane units (its font size, style.css)
const LABEL_W = 0.047; // a character's width, roughly

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

const clamp = (v) => Math.max(-1, Math.min(1, v));

// Where a label goes: beside its point, on the first side where it overlaps
// no label placed before it and stays on the plane.
function placeLabel(m, placed) {
  const w = m.name.length * LABEL_W;
  const x = m.valence, y = -m.arousal;
  const sides = [
    { x: x + 0.05, y: y + 0.03, anchor: 'start', box: [x + 0.05, y - 0.06, w, LABEL_H] },
    { x: x - 0.05, y: y + 0.03, anchor: 'end', box: [x - 0.05 - w, y - 0.06, w, LABEL_H] },
    { x, y: y - 0.06, anchor: 'middle', box: [x - w / 2, y - 0.15, w, LABEL_H] },
    { x, y: y + 0.13, anchor: 'middle', box: [x - w / 2, y + 0.04, w, LABEL_H] },
  ];
  const free = (b) => b[0] >= -1.25 && b[0] + b[2] <= 1.25 && b[1] >= -1.2 && b[1] + b[3] <= 1.2 &&
    placed.every((o) => b[0] + b[2] <= o[0] || o[0] + o[2] <= b[0] ||
                        b[1] + b[3] <= o[1] || o[1] + o[3] <= b[1]);
  const side = sides.find((s) => free(s.box)) || sides[0];
  placed.push(side.box);
  return side;
}

export class Plane {
  // onPick({valence, arousal}): a click on the plane.
  constructor(svg, onPick) {
    this.svg = svg;
    this.marks = svg.querySelector('#plane-moods');
    this.trail = svg.querySelector('#plane-trail');
    this.dot = svg.querySelector('#plane-dot');
    this.points = [];
    svg.addEventListener('click', (ev) => {
      const ctm = svg.getScreenCTM();
      if (!ctm) return;
      const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse());
      if (Math.abs(p.x) > 1.05 || Math.abs(p.y) > 1.05) return; // outside the square
      onPick({ valence: clamp(p.x), arousal: clamp(-p.y) });
    });
  }

  // Marks the named moods [{name, valence, arousal}].
  setMoods(moods) {
    this.marks.replaceChildren();
    // the points first, so that no label covers another mood's point
    const placed = moods.map((m) => [m.valence - 0.03, -m.arousal - 0.03, 0.06, 0.06]);
    for (const m of moods) {
      const g = el('g', { class: 'named', 'data-mood': m.name });
      g.append(el('circle', { cx: m.valence, cy: -m.arousal, r: 0.025 }));
      const side = placeLabel(m, placed);
      const t = el('text', { x: side.x, y: side.y, 'text-anchor': side.anchor });
      t.textContent = m.name;
      g.append(t);
      this.marks.append(g);
    }
  }

  // Marks the named mood `name` as the current one (none: null).
  highlight(name) {
    for (const g of this.marks.children)
      g.classList.toggle('current', g.dataset.mood === name);
  }

  // The mood's point: the dot moves there and the trail follows. stated:
  // a mood said by hand (the trail starts afresh); faded: no face now.
  show(point, { stated = false, faded = false } = {}) {
    if (!point) {
      this.dot.setAttribute('visibility', 'hidden');
      return;
    }
    const x = clamp(point.valence), y = -clamp(point.arousal);
    if (stated) this.points = [];
    const last = this.points[this.points.length - 1];
    if (!last || last[0] !== x || last[1] !== y) this.points.push([x, y]);
    if (this.points.length > TRAIL) this.points.shift();
    this.trail.setAttribute('points', this.points.map((p) => p.join(',')).join(' '));
    this.dot.setAttribute('cx', x);
    this.dot.setAttribute('cy', y);
    this.dot.setAttribute('visibility', 'visible');
    this.dot.classList.toggle('stated', stated);
    this.dot.classList.toggle('faded', faded);
  }

  resetTrail() {
    this.points = [];
    this.trail.setAttribute('points', '');
  }
}

// The words the page shows for a mood reply ({name, confidence, source,
// has_face?}): the name, and a detail line.
export function describeMood(m) {
  if (!m) return { name: 'not known yet', detail: 'Turn the camera on, or say how you feel.' };
  const sure = `${Math.round(100 * (m.confidence || 0))}% sure`;
  if (m.source === 'manual' || m.source === 'stated')
    return { name: m.name, detail: 'as you said' };
  if (m.has_face === false) return { name: 'no face', detail: 'Nobody in view.' };
  if (m.name === 'unknown') return { name: 'not sure yet', detail: `watching your face (${sure})` };
  return { name: m.name, detail: m.source === 'face' ? `from your face, ${sure}` : sure };
}
