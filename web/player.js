// The player: the listener's queue played by an <audio> element streaming
// from the API (seeking goes through HTTP Range), what plays now and why,
// the next songs, and the feedback that teaches emotune (like, skip with the
// position, complete at the end).

const UPCOMING = 4; // next songs shown
const MAX_FAILURES = 3; // songs in a row that would not play before giving up

const newSeed = () => Math.floor(Math.random() * 1e9);

export class Player {
  // ui: the elements; api: an Api; say(text): an announcement;
  // status(text): the player's status line.
  constructor({ ui, api, say, status, features }) {
    this.ui = ui;
    this.api = api;
    this.say = say;
    this.status = status;
    this.features = features;
    this.policy = 'match';
    this.seed = newSeed();
    this.current = null;
    this.upcoming = [];
    this.busy = false;
    this.started = false;
    this.failures = 0;
    this.liked = false;
    const a = ui.audio;
    a.addEventListener('ended', () => this.finished());
    a.addEventListener('error', () => this.failed());
    a.addEventListener('playing', () => {
      this.failures = 0;
      ui.play.hidden = true;
    });
    ui.play.addEventListener('click', () => this.resume());
    ui.like.addEventListener('click', () => this.like());
    ui.skip.addEventListener('click', () => this.skip());
  }

  // Forgets everything (another listener).
  reset() {
    this.started = false;
    this.current = null;
    this.upcoming = [];
    this.ui.audio.removeAttribute('src');
    this.ui.audio.load();
    this.showNow(null);
    this.showUpcoming();
  }

  setPolicy(policy) {
    this.policy = policy;
    if (this.started) this.refresh();
  }

  // Starts playing once a mood is known and the library has songs.
  async start() {
    if (this.started) return;
    this.started = true;
    await this.advance();
  }

  // The mood changed name: the next songs follow it; the song playing goes
  // on unless now is set (the listener asked for a change at once).
  async moodChanged(now) {
    if (!this.started) return;
    if (now) await this.advance();
    else await this.refresh();
  }

  nextPath(count, peek) {
    const q = new URLSearchParams({ count, policy: this.policy, seed: this.seed });
    if (peek) q.set('peek', '1');
    return this.api.mine(`next?${q}`);
  }

  // The next songs as they would come now (nothing recorded: peek).
  async refresh() {
    try {
      const doc = await this.api.get(this.nextPath(UPCOMING, true));
      this.upcoming = doc.queue;
      this.showUpcoming();
    } catch (e) {
      this.status(`The next songs could not be chosen: ${e.message}`);
    }
  }

  // The next song: asked of the server (recorded as queued, so it is not
  // repeated soon, here or on another server), then played.
  async advance() {
    if (this.busy) return;
    this.busy = true;
    try {
      const doc = await this.api.get(this.nextPath(1, false));
      const track = doc.queue[0];
      this.seed = newSeed();
      if (track) await this.play(track);
      await this.refresh();
    } catch (e) {
      this.status(`No song could be chosen: ${e.message}`);
    } finally {
      this.busy = false;
    }
  }

  // An API file's URL for an element that cannot send the Authorization
  // header: with the token as ?access_token= when the server has one (the
  // audio and cover routes take it there, and only they).
  mediaUrl(path) {
    return this.api.token ? `${path}?access_token=${encodeURIComponent(this.api.token)}` : path;
  }

  async details(track) {
    if (!this.features.trackInfo) return {};
    try {
      return await this.api.get(`/api/v1/tracks/${encodeURIComponent(track.id)}`);
    } catch {
      return {};
    }
  }

  async play(track) {
    const ui = this.ui;
    this.current = track;
    this.liked = false;
    const info = await this.details(track);
    this.showNow(track, info);
    const link = track.kind === 'link';
    if (link || !this.features.audio) {
      ui.audio.pause();
      ui.audio.removeAttribute('src');
      ui.audio.load();
      if (!link) this.status('This server cannot stream audio yet; skip to the next song.');
    } else {
      try {
        ui.audio.src = this.mediaUrl(`/api/v1/tracks/${encodeURIComponent(track.id)}/audio`);
        await this.resume();
      } catch (e) {
        this.status(`This song could not be loaded: ${e.message}`);
      }
    }
    const by = track.artist ? ` by ${track.artist}` : '';
    this.say(`Now playing: ${track.title || 'untitled'}${by}`);
  }

  async resume() {
    try {
      await this.ui.audio.play();
      this.ui.play.hidden = true;
      this.status('');
    } catch (e) {
      if (e.name === 'NotAllowedError') {
        this.ui.play.hidden = false;
        this.status('Press Play to start the music.');
      } else if (e.name !== 'AbortError') {
        this.status(`The song could not start: ${e.message}`);
      }
    }
  }

  // Seconds into the song now, within its length.
  position() {
    const t = this.ui.audio.currentTime || 0;
    const d = this.current && this.current.duration;
    return Math.round(100 * (d ? Math.min(t, d) : t)) / 100;
  }

  async feedback(kind, withPosition) {
    const track = this.current;
    if (!track) return null;
    const body = { track: track.id, kind };
    if (withPosition && track.kind !== 'link') body.at = this.position();
    try {
      return await this.api.post(this.api.mine('feedback'), body);
    } catch (e) {
      this.status(`Your ${kind} was not recorded: ${e.message}`);
      return null;
    }
  }

  async like() {
    if (!this.current || this.liked) return;
    if (await this.feedback('like', true)) {
      this.liked = true;
      this.ui.like.setAttribute('aria-pressed', 'true');
      this.ui.like.textContent = 'Liked';
      this.say(`Liked ${this.current.title || 'this song'}`);
    }
  }

  async skip() {
    if (!this.current) return;
    await this.feedback('skip', true);
    await this.advance();
  }

  async finished() {
    await this.feedback('complete', false);
    await this.advance();
  }

  async failed() {
    if (!this.current || !this.ui.audio.getAttribute('src')) return;
    this.failures++;
    this.status(`"${this.current.title}" could not be played.`);
    if (this.failures < MAX_FAILURES) await this.advance();
  }

  showNow(track, info = {}) {
    const ui = this.ui;
    ui.title.textContent = track ? (track.title || 'untitled') : 'Nothing yet';
    const by = track ? [track.artist || info.artist, info.album].filter(Boolean) : [];
    ui.artist.textContent = by.join(' \u2014 ');
    ui.reason.textContent = track && track.reason ? `Because: ${track.reason}` : '';
    ui.like.disabled = !track;
    ui.skip.disabled = !track;
    ui.like.setAttribute('aria-pressed', 'false');
    ui.like.textContent = 'Like';
    const url = track && track.kind === 'link' ? (track.location || info.url) : null;
    if (url && /^https?:\/\//i.test(url)) {
      ui.link.href = url;
      ui.link.hidden = false;
    } else {
      ui.link.hidden = true;
      ui.link.setAttribute('href', '/');
    }
    ui.cover.hidden = true;
    ui.cover.removeAttribute('src');
    if (track && info.cover === true) {
      ui.cover.src = this.mediaUrl(`/api/v1/tracks/${encodeURIComponent(track.id)}/cover`);
      ui.cover.alt = `Cover of ${track.title || 'the song'}`;
      ui.cover.hidden = false;
    }
  }

  showUpcoming() {
    const list = this.ui.upnext;
    list.replaceChildren();
    for (const t of this.upcoming) {
      const li = document.createElement('li');
      const title = document.createElement('span');
      title.className = 'up-title';
      title.textContent = t.title || 'untitled';
      li.append(title);
      if (t.artist) {
        const artist = document.createElement('span');
        artist.className = 'up-artist';
        artist.textContent = ` \u2014 ${t.artist}`;
        li.append(artist);
      }
      if (t.reason) {
        const why = document.createElement('span');
        why.className = 'up-reason';
        why.textContent = t.reason;
        li.append(why);
      }
      list.append(li);
    }
  }
}
