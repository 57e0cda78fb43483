// "Go live": publishes this browser's camera to facecast over WHIP and shows, side by side, what was sent and
// the annotated result played back over WHEP, with the scene group's emotion from socket.io.
import { io } from '/socket.io/socket.io.esm.min.js';
import { publishWhip } from './whip.js';
import { playWhep } from './whep.js';
import { pageToken } from './token.js';

/** @typedef {import('../src/broadcast/protocol.ts').ServerToClientEvents} ServerToClientEvents */
/** @typedef {import('../src/broadcast/protocol.ts').ClientToServerEvents} ClientToServerEvents */

const form = /** @type {HTMLFormElement} */ (document.getElementById('golive'));
const out = /** @type {HTMLOutputElement} */ (document.getElementById('result'));
const local = /** @type {HTMLVideoElement} */ (document.getElementById('local'));
const annotated = /** @type {HTMLVideoElement} */ (document.getElementById('annotated'));
const stopButton = /** @type {HTMLButtonElement} */ (document.getElementById('stop'));
const group = /** @type {HTMLElement} */ (document.getElementById('group'));
const members = /** @type {HTMLElement} */ (document.getElementById('members'));

/** @type {import('socket.io-client').Socket<ServerToClientEvents, ClientToServerEvents>} */
// Viewing (socket.io, WHEP) uses the page's token (?token=…), else the publish token typed in the form.
const viewToken = pageToken();
const socket = io(viewToken ? { auth: { token: viewToken } } : {});
/** State of the current session, for the stop button and for tests. */
const live = { stream: '', publishing: false, playing: false, faces: 0, /** @type {(() => Promise<void>)[]} */ stops: [] };
Object.assign(globalThis, { facecastLive: live });

socket.on('faces', (id, f) => {
  if (id !== live.stream) return;
  live.faces = f.faces.length;
  members.replaceChildren(...f.faces.map((x) => {
    const li = document.createElement('li');
    li.textContent = [`#${x.trackId}`, x.emotion ? x.emotion.label : x.status, x.age !== null ? `${Math.round(x.age)} y` : ''].filter(Boolean).join(' · ');
    return li;
  }));
});
socket.on('groups', (id, groups) => {
  const scene = groups.find((g) => g.kind === 'scene');
  if (id !== live.stream || !scene) return;
  group.textContent = `${scene.faceCount} face(s) · dominant ${scene.dominant ?? '–'} · valence ${scene.valence.toFixed(2)} · cohesion ${scene.cohesion.toFixed(2)} · ${scene.trendLabel}`;
});

async function stop() {
  const stops = live.stops.splice(0);
  for (const s of stops.reverse()) await s().catch(() => undefined);
  live.publishing = live.playing = false;
  stopButton.disabled = true;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  await stop();
  const f = new FormData(form);
  const stream = String(f.get('stream') ?? '');
  const token = String(f.get('token') ?? '') || undefined;
  const [width, height] = String(f.get('size') ?? '1280x720').split('x').map(Number);
  live.stream = stream;
  try {
    out.textContent = 'starting camera…';
    const media = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 25 } }, audio: false });
    live.stops.push(async () => media.getTracks().forEach((t) => t.stop()));
    local.srcObject = media;
    out.textContent = 'publishing…';
    const pub = await publishWhip(media, `/whip/${encodeURIComponent(stream)}`, { token });
    live.stops.push(pub.stop);
    live.publishing = true;
    stopButton.disabled = false;
    socket.emit('subscribe', stream, (r) => {
      if (!r.ok) out.textContent = r.error.message;
    });
    live.stops.push(async () => void socket.emit('unsubscribe', stream));
    // The stream exists once the offer was answered: play it back annotated.
    const view = await playWhep(annotated, `/whep/${encodeURIComponent(stream)}?overlay=server`, { token: viewToken ?? token });
    live.stops.push(view.stop);
    annotated.addEventListener('playing', () => (live.playing = true), { once: true });
    out.textContent = 'live';
  } catch (e) {
    out.textContent = `failed: ${e instanceof Error ? e.message : e}`;
    await stop();
  }
});
stopButton.addEventListener('click', () => {
  stop().then(() => (out.textContent = 'stopped'));
});
