// The dashboard: one card per stream, fed by socket.io (src/broadcast/protocol.ts is the contract). REST is used
// only for the first stream list (so cards show before the socket connects) and for the add-camera form.
// Events only store data and mark the card dirty; drawing happens once per animation frame, so 25 fps of
// `faces` per stream never queues up DOM work.
import { io } from '/socket.io/socket.io.esm.min.js';
import { COLOURS, Ring, drawCircumplex, drawDemographics, drawEmotionBars, drawLine } from './charts.js';
import { playWhep } from './whep.js';
import { ClientOverlay } from './overlay.js';
import { askToken, authHeaders, pageToken } from './token.js';
import { GroupList, cameraGroupExtra } from './groups.js';
import { errorText, wireActions } from './card-actions.js';

/** @typedef {import('../src/broadcast/protocol.ts').ServerToClientEvents} ServerToClientEvents */
/** @typedef {import('../src/broadcast/protocol.ts').ClientToServerEvents} ClientToServerEvents */
/** @typedef {import('../src/broadcast/protocol.ts').FrameSummary} FrameSummary */
/** @typedef {import('../src/broadcast/protocol.ts').StreamSummary} StreamSummary */
/** @typedef {import('../src/core/records.ts').GroupRecord} GroupRecord */
/** @typedef {import('../src/core/records.ts').CameraGroupRecord} CameraGroupRecord */

/** Snapshot refresh period while frames flow and live video (WHEP) is not playing, ms. */
const SNAPSHOT_MS = 300;

/** @type {import('socket.io-client').Socket<ServerToClientEvents, ClientToServerEvents>} */
const token = pageToken();
const socket = io(token ? { auth: { token } } : {});
const main = /** @type {HTMLElement} */ (document.getElementById('streams'));
const health = /** @type {HTMLElement} */ (document.getElementById('health'));
/** @type {Map<string, ReturnType<typeof makeCard>>} */
const cards = new Map();
// For the browser console and the end-to-end tests: the cards with their overlay state.
Object.assign(globalThis, { facecast: { cards } });

const TEMPLATE = `
<h2><span class="name"></span><span class="state"></span></h2>
<div class="actions">
  <button type="button" data-act="edit">edit</button>
  <button type="button" data-act="zones">zones</button>
  <button type="button" data-act="remove">remove</button>
  <output class="card-error" role="alert"></output>
</div>
<form class="edit" hidden>
  <label>name <input name="name" size="20"></label>
  <label>source <input name="source" size="36"></label>
  <button>Save</button> <button type="button" data-act="edit-cancel">Cancel</button>
</form>
<div class="zones-slot"></div>
<div class="media" data-slot="video">
  <!-- VIDEO SLOT: web/whep.js puts the live <video> here and hides the snapshot <img>. -->
  <img class="snapshot" alt="" hidden>
  <!-- Until a first picture: no broken image, a placeholder that says why (idle WHIP point, camera not yet read). -->
  <div class="media-idle" role="status"></div>
  <canvas class="overlay" hidden></canvas>
  <!-- Over the (frozen) picture while no frames flow: stalled, reconnecting, connecting. -->
  <div class="media-state" role="status" hidden></div>
</div>
<div class="toggle" role="group" aria-label="overlay">
  <label><input type="radio" value="server"> boxes burnt in by the server</label>
  <label><input type="radio" value="client"> drawn here (clean video)</label>
</div>
<p class="summary"><b class="faces">0 faces</b> <span class="scene muted">waiting for data…</span></p>
<div class="charts">
  <figure><canvas class="c-emotion" width="250" height="112"></canvas><figcaption>emotion distribution</figcaption></figure>
  <figure><canvas class="c-va" width="112" height="112"></canvas><figcaption>valence / arousal</figcaption></figure>
  <figure><canvas class="c-demo" width="180" height="112"></canvas><figcaption>gender · age bands</figcaption></figure>
  <figure><canvas class="c-cohesion" width="250" height="60"></canvas><figcaption>cohesion</figcaption></figure>
  <figure><canvas class="c-count" width="250" height="60"></canvas><figcaption>faces</figcaption></figure>
</div>
<div class="groups" hidden></div>
<ul class="members"></ul>`;

/** @param {StreamSummary} s */
function makeCard(s) {
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.stream = s.id;
  el.innerHTML = TEMPLATE;
  const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (el.querySelector(sel));
  const canvas = (/** @type {string} */ sel) => /** @type {HTMLCanvasElement} */ (el.querySelector(sel));
  q('.name').textContent = s.name;
  const img = /** @type {HTMLImageElement} */ (el.querySelector('.snapshot'));
  img.alt = `annotated snapshot of ${s.name}`;
  const radios = /** @type {HTMLInputElement[]} */ ([...el.querySelectorAll('.toggle input')]);
  for (const r of radios) r.name = `overlay-${s.id}`;
  const c = {
    id: s.id, el, img, state: q('.state'), mediaState: q('.media-state'), faces: q('.faces'), sceneText: q('.scene'), members: q('.members'),
    canvases: { emotion: canvas('.c-emotion'), va: canvas('.c-va'), demo: canvas('.c-demo'), cohesion: canvas('.c-cohesion'), count: canvas('.c-count') },
    /** @type {FrameSummary | null} */ frame: null,
    /** @type {GroupRecord | null} */ scene: null,
    /** Zones and clusters of the last `groups` message. @type {GroupRecord[]} */ groups: [],
    groupList: new GroupList(q('.groups')),
    config: s.config,
    idle: q('.media-idle'),
    error: /** @type {HTMLOutputElement} */ (q('.card-error')),
    /** A first snapshot has loaded (until then the placeholder shows, never a broken image). */
    hasPicture: false,
    /** The WHEP video plays (snapshots are not fetched meanwhile). */
    videoPlaying: false,
    /** @type {import('./zones.js').ZoneEditor | null} */ zoneEditor: null,
    cohesion: new Ring(), count: new Ring(), trail: /** @type {{v: number, a: number}[]} */ ([]),
    dirty: true, loading: false, lastSnapshot: 0,
    /** @type {(() => Promise<void>) | null} */ stopVideo: null,
    /** @type {ClientOverlay | null} */ overlay: null,
    /** 'server': boxes in the video pixels; 'client': clean video, boxes drawn by ClientOverlay. */
    mode: s.config.output.mode === 'passthrough' ? 'client' : 'server',
    generation: 0,
    /** @type {StreamSummary['status'] | null} */ status: null,
    /** performance.now() when `status` came: its sinceFrameMs grows from there. */
    statusAt: 0,
  };
  img.addEventListener('load', () => {
    c.loading = false;
    c.hasPicture = true;
    showPicture(c);
  });
  img.addEventListener('error', () => (c.loading = false));
  wireActions(c, { token, reload: loadStreams, applyConfig });
  showPicture(c);
  for (const r of radios) {
    r.checked = r.value === c.mode;
    r.addEventListener('change', () => {
      if (!r.checked || r.value === c.mode) return;
      c.mode = r.value === 'client' ? 'client' : 'server';
      startVideo(c, el.querySelector('.media'));
    });
  }
  main.append(el);
  startVideo(c, el.querySelector('.media'));
  return c;
}

/**
 * Live video over WHEP in the card's media slot, with the overlay the card's toggle asks for (a new session per
 * switch). The snapshot stays until the video plays, and comes back if WebRTC is not possible (e.g. blocked
 * UDP): the page always shows something.
 * @param {ReturnType<typeof makeCard>} c
 * @param {Element | null} slot
 */
async function startVideo(c, slot) {
  if (!slot || typeof RTCPeerConnection === 'undefined') return;
  const generation = ++c.generation;
  const old = c.stopVideo;
  c.stopVideo = null;
  c.overlay?.stop();
  c.overlay = null;
  slot.querySelector('video.live')?.remove();
  c.videoPlaying = false; // snapshots until the new session plays
  showPicture(c);
  await old?.().catch(() => undefined);
  if (generation !== c.generation) return; // switched again meanwhile
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.hidden = true;
  video.className = 'live';
  slot.prepend(video);
  const canvas = /** @type {HTMLCanvasElement} */ (slot.querySelector('canvas.overlay'));
  const overlay = new ClientOverlay(video, canvas);
  overlay.setZones(c.config.zones);
  c.overlay = overlay;
  video.addEventListener('playing', () => {
    video.hidden = false;
    c.videoPlaying = true;
    showPicture(c);
    overlay.setEnabled(c.mode === 'client');
  });
  try {
    const session = await playWhep(video, `/whep/${encodeURIComponent(c.id)}?overlay=${c.mode}`, { token });
    if (generation !== c.generation) {
      await session.stop();
      return;
    }
    c.stopVideo = session.stop;
    session.pc.addEventListener('connectionstatechange', () => {
      if (session.pc.connectionState === 'failed' || session.pc.connectionState === 'closed') {
        video.hidden = true;
        c.videoPlaying = false;
        showPicture(c);
        overlay.setEnabled(false); // the snapshot has the boxes burnt in
      }
    });
  } catch (e) {
    console.warn(`live video for ${c.id} unavailable, showing snapshots:`, e);
    overlay.stop();
    overlay.setEnabled(false);
    video.remove();
  }
}

/** @param {string} id */
function subscribe(id) {
  if (!socket.connected) return; // 'connect' subscribes every card
  socket.emit('subscribe', id, (r) => {
    const c = cards.get(id);
    if (!r.ok && c) c.state.textContent = r.error.message;
  });
}

/** @param {StreamSummary[]} streams */
function setStreams(streams) {
  for (const s of streams) {
    const known = cards.get(s.id);
    if (known) {
      applyConfig(known, s);
      continue;
    }
    cards.set(s.id, makeCard(s));
    showStatus(s.id, s.status);
    subscribe(s.id);
  }
  for (const [id, c] of cards) {
    if (streams.some((s) => s.id === id)) continue;
    c.el.remove();
    c.overlay?.stop();
    c.stopVideo?.().catch(() => undefined);
    cards.delete(id);
    if (socket.connected) socket.emit('unsubscribe', id);
  }
  health.textContent = `${streams.length} stream(s) · ${socket.connected ? 'live' : 'connecting…'}`;
}

/** @param {string} id @param {StreamSummary['status']} s */
function showStatus(id, s) {
  const c = cards.get(id);
  if (!c) return;
  // Latency is the honest figure: from the camera's time of the frame (backlog included); lag is ingest's share.
  const live = s.state === 'streaming' ? ` · lag ${s.ingestLagMs.toFixed(0)} ms · latency ${s.latencyMs.toFixed(0)} ms` : '';
  const skipped = s.framesSkipped > 0 ? ` · ${s.framesSkipped} skipped` : '';
  c.state.textContent = `${s.state} · ${s.inputFps.toFixed(0)} fps in · ${s.analysedFps.toFixed(0)} analysed${live}${skipped}`;
  c.state.className = `state state-${s.state}`;
  c.status = s;
  c.statusAt = performance.now();
  showMediaState(c);
}

/**
 * The notice over the video while no frames flow: the picture shown is the last one received, so say so
 * plainly rather than let a frozen frame pass for live.
 * @param {ReturnType<typeof makeCard>} c
 */
function showMediaState(c) {
  const s = c.status;
  if (!s) return;
  const ago = Math.floor((s.sinceFrameMs + performance.now() - c.statusAt) / 1000);
  const noFrame = s.framesReceived > 0 ? ` — no frame for ${ago} s` : '';
  /** @type {Record<string, string>} */
  const text = {
    stalled: `stalled${noFrame}`,
    backoff: `reconnecting${noFrame}`,
    connecting: s.framesReceived > 0 ? `reconnecting${noFrame}` : 'connecting…',
    error: `error${s.lastError ? `: ${s.lastError}` : ''}`,
    idle: 'waiting for a publisher',
    stopped: 'stopped',
  };
  // Before any picture the placeholder speaks (an idle WHIP point is waiting for a publisher, not "connecting").
  const t = s.framesReceived > 0 || s.state === 'error' ? text[s.state] : undefined;
  c.mediaState.hidden = t === undefined;
  c.mediaState.textContent = t ?? '';
  c.mediaState.className = `media-state media-state-${s.state}`;
  showPicture(c);
}

/**
 * What the video box shows: the live video, else the latest snapshot, else (no picture yet) a placeholder that
 * says why — never a broken image.
 * @param {ReturnType<typeof makeCard>} c
 */
function showPicture(c) {
  c.img.hidden = c.videoPlaying || !c.hasPicture;
  const waiting = !c.videoPlaying && !c.hasPicture;
  c.idle.hidden = !waiting;
  if (!waiting) return;
  const st = c.status?.state;
  c.idle.textContent =
    c.config.source === 'whip'
      ? 'no video: waiting for a publisher (go live with a camera, or POST /whip/' + c.id + ')'
      : st === 'error'
        ? 'no video: the source failed (see the state above)'
        : 'no video yet: connecting to the source…';
}

/** The stream's data is live only while it streams; otherwise the figures shown are the last ones, marked stale. @param {ReturnType<typeof makeCard>} c */
function isLive(c) {
  return c.status?.state === 'streaming' && c.status.framesReceived > 0;
}

// The "no frame for N s" count goes on between status messages.
setInterval(() => {
  for (const c of cards.values()) {
    if (c.status && c.status.state !== 'streaming') showMediaState(c);
    const stale = !isLive(c);
    if (stale !== c.el.classList.contains('stale')) {
      c.el.classList.toggle('stale', stale);
      c.dirty = true;
    }
  }
}, 500);

socket.on('connect', () => {
  health.textContent = `${cards.size} stream(s) · live`;
  // Rooms do not survive a reconnect: join them again.
  for (const id of cards.keys()) subscribe(id);
});
socket.on('disconnect', () => (health.textContent = 'disconnected, reconnecting…'));
socket.on('connect_error', (e) => {
  if (e.message === 'unauthorized') health.textContent = 'this server needs a token: open the page with ?token=…';
});
socket.on('streams', setStreams);
socket.on('status', ({ id, status }) => showStatus(id, status));

socket.on('faces', (id, frame) => {
  const c = cards.get(id);
  if (!c) return;
  c.frame = frame;
  c.overlay?.push(frame);
  c.dirty = true;
  const now = performance.now();
  if (!c.loading && now - c.lastSnapshot > SNAPSHOT_MS && !c.videoPlaying) {
    c.loading = true;
    c.lastSnapshot = now;
    const url = `/api/streams/${encodeURIComponent(id)}/snapshot.jpg?t=${Date.now()}`;
    if (!token) c.img.src = url;
    else {
      // An <img> cannot send the token: fetch the JPEG and show it as a blob.
      fetch(url, { headers: authHeaders(token) })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((b) => {
          const old = c.img.src;
          c.img.src = URL.createObjectURL(b);
          if (old.startsWith('blob:')) URL.revokeObjectURL(old);
        })
        .catch(() => (c.loading = false));
    }
  }
});

socket.on('groups', (id, groups) => {
  const c = cards.get(id);
  const scene = groups.find((g) => g.kind === 'scene');
  if (!c || !scene) return;
  c.scene = scene;
  c.groups = groups.filter((g) => g.kind !== 'scene');
  c.cohesion.push(scene.cohesion);
  c.count.push(scene.faceCount);
  c.trail.push({ v: scene.valence, a: scene.arousal });
  if (c.trail.length > 20) c.trail.shift(); // the last ~10 s
  c.dirty = true;
});

/** @param {ReturnType<typeof makeCard>} c */
function render(c) {
  if (!isLive(c) && c.status) {
    // Idle, stalled, reconnecting, failed: no live figures. The charts keep their last picture, greyed (CSS .stale).
    c.faces.textContent = 'no live data';
    c.sceneText.textContent = c.scene ? `(last figures shown are stale: ${c.status.state})` : `(${c.status.state})`;
    c.members.replaceChildren();
    return;
  }
  const f = c.frame;
  if (f) {
    c.faces.textContent = `${f.faces.length} face${f.faces.length === 1 ? '' : 's'}`;
    c.members.replaceChildren(...f.faces.map(member));
  }
  const g = c.scene;
  if (!g) return;
  c.sceneText.textContent = `scene: dominant ${g.dominant ?? '–'} · valence ${g.valence.toFixed(2)} · cohesion ${g.cohesion.toFixed(2)} · ${g.trendLabel}`;
  c.groupList.update(c.groups);
  drawEmotionBars(c.canvases.emotion, g.emotion);
  drawCircumplex(c.canvases.va, c.trail);
  drawDemographics(c.canvases.demo, g.maleRatio, g.ageBands);
  drawLine(c.canvases.cohesion, c.cohesion.items, { max: 1, colour: '#2a9d8f' });
  drawLine(c.canvases.count, c.count.items, { colour: '#3a86ff', format: (v) => v.toFixed(0) });
}

/** One member's line: track id, emotion (colour dot, label, confidence), age and gender. @param {FrameSummary['faces'][number]} face */
function member(face) {
  const li = document.createElement('li');
  const dot = document.createElement('i');
  const e = face.emotion;
  dot.style.background = e ? COLOURS[e.label] : '#8c8c8c';
  const p = e ? Math.max(...e.probs) : 0;
  const parts = [`#${face.trackId}`, e ? `${e.label} ${Math.round(p * 100)}%` : face.status];
  if (face.age !== null) parts.push(`${Math.round(face.age)} y`);
  if (face.gender) parts.push(face.gender.label === 'male' ? '♂' : '♀');
  li.append(dot, parts.join(' · '));
  return li;
}

function frame() {
  for (const c of cards.values()) {
    if (!c.dirty) continue;
    c.dirty = false;
    render(c);
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

/** A later `streams` message (or a PATCH answer): the card follows the config (name, zones). @param {ReturnType<typeof makeCard>} c @param {StreamSummary} s */
function applyConfig(c, s) {
  c.config = s.config;
  c.el.querySelector('.name').textContent = s.name;
  c.overlay?.setZones(s.config.zones);
}

// Camera groups (config `groups:`): a section above the cards, fed by `cameraGroups` about twice a second.
const cameraSection = /** @type {HTMLElement} */ (document.getElementById('camera-groups'));
const cameraList = new GroupList(/** @type {HTMLElement} */ (cameraSection.querySelector('.cgroups')));
/** @param {CameraGroupRecord[]} groups */
function showCameraGroups(groups) {
  cameraList.update(groups, cameraGroupExtra);
  cameraSection.hidden = groups.length === 0;
}
socket.on('cameraGroups', showCameraGroups);
fetch('/api/groups', { headers: authHeaders(token) })
  .then((r) => (r.ok ? r.json() : { groups: [] }))
  .then((b) => showCameraGroups(b.groups ?? []))
  .catch(() => undefined);

async function loadStreams() {
  try {
    const res = await fetch('/api/streams', { headers: authHeaders(token) });
    if (res.status === 401 && askToken()) return;
    const { streams } = await res.json();
    setStreams(streams);
  } catch (e) {
    health.textContent = `server unreachable: ${e instanceof Error ? e.message : e}`;
  }
}

/** @type {HTMLFormElement} */ (document.getElementById('add')).addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = /** @type {HTMLFormElement} */ (ev.target);
  const f = new FormData(form);
  /** @type {Record<string, FormDataEntryValue>} */
  const body = { id: f.get('id') ?? '', source: f.get('source') ?? '' };
  const name = f.get('name');
  if (name) body.name = name;
  const r = await fetch('/api/streams', { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token) }, body: JSON.stringify(body) });
  const out = /** @type {HTMLElement} */ (document.getElementById('add-result'));
  out.textContent = r.ok ? 'added' : await errorText(r);
  out.className = r.ok ? 'ok' : 'error';
  if (r.ok) {
    form.reset();
    await loadStreams(); // the server also pushes `streams`; this covers a server that does not yet
  }
});

loadStreams();
