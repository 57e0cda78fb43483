// Interim dashboard: stream cards with an annotated snapshot refreshed a few times a second and the scene
// group's emotion. Live WebRTC video and socket.io data replace the polling when the broadcast layer lands.
const COLOURS = { angry: '#e63946', disgust: '#6a994e', fear: '#9b5de5', happy: '#ffc828', sad: '#3a86ff', surprise: '#ff8000', neutral: '#c8c8c8' };
const EMOTIONS = Object.keys(COLOURS);
const main = document.getElementById('streams');
const cards = new Map();

function card(s) {
  let c = cards.get(s.id);
  if (c) return c;
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.stream = s.id;
  el.innerHTML = `<h2><span class="name"></span><span class="state"></span></h2><img alt="annotated snapshot of ${s.id}"><div class="groups"></div>`;
  el.querySelector('.name').textContent = s.name;
  main.append(el);
  c = { el, img: el.querySelector('img'), state: el.querySelector('.state'), groups: el.querySelector('.groups'), loading: false };
  c.img.addEventListener('load', () => (c.loading = false));
  c.img.addEventListener('error', () => (c.loading = false));
  cards.set(s.id, c);
  return c;
}

function renderGroups(c, groups) {
  const scene = groups.find((g) => g.kind === 'scene');
  if (!scene) { c.groups.textContent = 'no faces yet'; return; }
  const bars = EMOTIONS.map((e, i) => `<div class="bar"><span>${e}</span><i style="width:${Math.round(200 * (scene.emotion[i] ?? 0))}px;background:${COLOURS[e]}"></i></div>`).join('');
  c.groups.innerHTML = `<div>${scene.faceCount} faces · dominant <b>${scene.dominant ?? '-'}</b> · valence ${scene.valence.toFixed(2)} · cohesion ${scene.cohesion.toFixed(2)} · trend ${scene.trendLabel}</div>${bars}<div class="muted">${groups.length - 1} other group(s)</div>`;
}

async function refresh() {
  try {
    const { streams } = await (await fetch('/api/streams')).json();
    for (const s of streams) {
      const c = card(s);
      c.state.textContent = `${s.status.state} · ${s.status.inputFps.toFixed(0)} fps in · ${s.status.faces} faces`;
      c.state.className = `state state-${s.status.state}`;
      if (!c.loading && s.status.framesReceived > 0) {
        c.loading = true;
        c.img.src = `/api/streams/${encodeURIComponent(s.id)}/snapshot.jpg?t=${Date.now()}`;
      }
      const g = await fetch(`/api/streams/${encodeURIComponent(s.id)}/groups`);
      if (g.ok) renderGroups(c, (await g.json()).groups);
    }
    for (const [id, c] of cards) if (!streams.some((s) => s.id === id)) { c.el.remove(); cards.delete(id); }
    document.getElementById('health').textContent = `${streams.length} stream(s)`;
  } catch (e) {
    document.getElementById('health').textContent = `server unreachable: ${e.message}`;
  }
}

document.getElementById('add').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = { id: f.get('id'), source: f.get('source') };
  if (f.get('name')) body.name = f.get('name');
  const r = await fetch('/api/streams', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const out = document.getElementById('add-result');
  out.textContent = r.ok ? 'added' : (await r.json()).error?.message ?? `HTTP ${r.status}`;
});

refresh();
setInterval(refresh, 300);
