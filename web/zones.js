// Zones on the dashboard: their outlines over the video (client overlay, and the snapshot editor) and an editor
// that draws polygons on a snapshot of the stream (GET /api/streams/:id/snapshot.jpg) and saves them with
// PATCH /api/streams/:id {zones}. Coordinates are 0..1 of the frame, origin top-left (docs/config.md).

/** @typedef {{id: string, name?: string, polygon: [number, number][]}} Zone */

const ZONE_COLOUR = '#00e5ff';
/** Zone ids follow the stream id alphabet (a short slug). */
const ZONE_ID = /^[a-z0-9][a-z0-9_-]{0,99}$/;

/**
 * Outlines and names of `zones` on a 2D context, for a picture of `w`×`h` pixels placed at (ox, oy).
 * @param {CanvasRenderingContext2D} ctx @param {Zone[]} zones @param {number} ox @param {number} oy @param {number} w @param {number} h
 * @param {Zone | null} [open] a zone being drawn (its points joined, not closed)
 */
export function drawZones(ctx, zones, ox, oy, w, h, open = null) {
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = ZONE_COLOUR;
  ctx.fillStyle = '#00e5ff22';
  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  for (const z of zones) {
    if (z.polygon.length < 2) continue;
    ctx.beginPath();
    z.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(ox + x * w, oy + y * h) : ctx.moveTo(ox + x * w, oy + y * h)));
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
    const [lx, ly] = z.polygon[0];
    const label = z.name || z.id;
    const tw = ctx.measureText(label).width + 6;
    ctx.fillStyle = ZONE_COLOUR;
    ctx.fillRect(ox + lx * w, oy + ly * h, tw, 15);
    ctx.fillStyle = '#000';
    ctx.fillText(label, ox + lx * w + 3, oy + ly * h + 1);
    ctx.fillStyle = '#00e5ff22';
  }
  if (open && open.polygon.length) {
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    open.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(ox + x * w, oy + y * h) : ctx.moveTo(ox + x * w, oy + y * h)));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = ZONE_COLOUR;
    for (const [x, y] of open.polygon) ctx.fillRect(ox + x * w - 3, oy + y * h - 3, 6, 6);
  }
  ctx.restore();
}

const EDITOR = `
<div class="zone-canvas"><img alt="snapshot for drawing zones"><canvas></canvas></div>
<p class="muted">Click on the picture to add the points of a zone (at least 3), then “Close zone”. Save sends the zones to the server.</p>
<div class="zone-controls">
  <label>zone id <input name="zone-id" placeholder="door" size="10"></label>
  <label>name <input name="zone-name" placeholder="Door" size="12"></label>
  <button type="button" data-act="close">Close zone</button>
  <button type="button" data-act="undo">Undo point</button>
  <button type="button" data-act="save">Save zones</button>
  <button type="button" data-act="cancel">Cancel</button>
</div>
<ul class="zone-list"></ul>
<output class="zone-result" role="status"></output>`;

/**
 * The zone editor of one card. `fetchSnapshot()` resolves to an image URL (a blob URL with a token); `save(zones)`
 * sends them and resolves to the zones the server stored, or throws an Error whose message is shown here.
 */
export class ZoneEditor {
  /**
   * @param {HTMLElement} root an empty element the editor fills
   * @param {{ zones: () => Zone[], fetchSnapshot: () => Promise<string>, save: (zones: Zone[]) => Promise<Zone[]> }} io
   */
  constructor(root, io) {
    this.root = root;
    this.io = io;
    root.innerHTML = EDITOR;
    root.classList.add('zone-editor');
    root.hidden = true;
    this.img = /** @type {HTMLImageElement} */ (root.querySelector('img'));
    this.canvas = /** @type {HTMLCanvasElement} */ (root.querySelector('canvas'));
    this.list = /** @type {HTMLElement} */ (root.querySelector('.zone-list'));
    this.result = /** @type {HTMLOutputElement} */ (root.querySelector('.zone-result'));
    this.idInput = /** @type {HTMLInputElement} */ (root.querySelector('input[name="zone-id"]'));
    this.nameInput = /** @type {HTMLInputElement} */ (root.querySelector('input[name="zone-name"]'));
    /** @type {Zone[]} */
    this.zones = [];
    /** @type {Zone} */
    this.open = { id: '', polygon: [] };
    this.canvas.addEventListener('click', (ev) => this.#click(ev));
    this.img.addEventListener('load', () => this.redraw());
    root.addEventListener('click', (ev) => {
      const act = /** @type {HTMLElement} */ (ev.target).dataset?.act;
      if (act === 'close') this.#closeZone();
      else if (act === 'undo') {
        this.open.polygon.pop();
        this.redraw();
      } else if (act === 'save') void this.#save();
      else if (act === 'cancel') this.hide();
      else if (act === 'delete') {
        const id = /** @type {HTMLElement} */ (ev.target).dataset.zone;
        this.zones = this.zones.filter((z) => z.id !== id);
        this.#renderList();
        this.redraw();
      }
    });
  }

  get visible() {
    return !this.root.hidden;
  }

  async show() {
    this.zones = structuredClone(this.io.zones());
    this.open = { id: '', polygon: [] };
    this.#say('');
    this.#renderList();
    this.root.hidden = false;
    try {
      this.img.src = await this.io.fetchSnapshot();
    } catch (e) {
      this.#say(`no snapshot: ${e instanceof Error ? e.message : e}`, true);
    }
    this.redraw();
  }

  hide() {
    this.root.hidden = true;
  }

  /** The picture's box inside the canvas (the snapshot is letterboxed like the video). */
  #box() {
    const c = this.canvas;
    const cw = c.clientWidth || c.width;
    const ch = c.clientHeight || c.height;
    const iw = this.img.naturalWidth || 16;
    const ih = this.img.naturalHeight || 9;
    const s = Math.min(cw / iw, ch / ih);
    return { cw, ch, ox: (cw - iw * s) / 2, oy: (ch - ih * s) / 2, w: iw * s, h: ih * s };
  }

  redraw() {
    const b = this.#box();
    if (this.canvas.width !== b.cw || this.canvas.height !== b.ch) {
      this.canvas.width = b.cw;
      this.canvas.height = b.ch;
    }
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, b.cw, b.ch);
    drawZones(ctx, this.zones, b.ox, b.oy, b.w, b.h, this.open);
  }

  /** @param {MouseEvent} ev */
  #click(ev) {
    const r = this.canvas.getBoundingClientRect();
    const b = this.#box();
    const x = (ev.clientX - r.left - b.ox) / b.w;
    const y = (ev.clientY - r.top - b.oy) / b.h;
    if (x < 0 || x > 1 || y < 0 || y > 1) return;
    this.open.polygon.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
    this.redraw();
  }

  #closeZone() {
    const id = this.idInput.value.trim();
    if (!ZONE_ID.test(id)) return this.#say('a zone id: lower-case letters, digits, - and _ (e.g. "door")', true);
    if (this.zones.some((z) => z.id === id)) return this.#say(`zone "${id}" exists: delete it first or choose another id`, true);
    if (this.open.polygon.length < 3) return this.#say('a zone needs at least 3 points: click on the picture', true);
    const name = this.nameInput.value.trim();
    this.zones.push({ id, ...(name ? { name } : {}), polygon: this.open.polygon });
    this.open = { id: '', polygon: [] };
    this.idInput.value = '';
    this.nameInput.value = '';
    this.#say(`zone "${id}" added (not saved yet)`);
    this.#renderList();
    this.redraw();
  }

  async #save() {
    if (this.open.polygon.length) return this.#say('close or undo the zone being drawn first', true);
    this.#say('saving…');
    try {
      this.zones = await this.io.save(this.zones);
      this.#say(`saved ${this.zones.length} zone(s); the stream restarts with them`);
      this.#renderList();
      this.redraw();
    } catch (e) {
      this.#say(e instanceof Error ? e.message : String(e), true);
    }
  }

  #renderList() {
    this.list.replaceChildren(
      ...this.zones.map((z) => {
        const li = document.createElement('li');
        const del = document.createElement('button');
        del.type = 'button';
        del.dataset.act = 'delete';
        del.dataset.zone = z.id;
        del.textContent = 'delete';
        li.append(`${z.name || z.id} (${z.id}, ${z.polygon.length} points) `, del);
        return li;
      }),
    );
  }

  /** @param {string} text @param {boolean} [error] */
  #say(text, error = false) {
    this.result.textContent = text;
    this.result.className = `zone-result${error ? ' error' : ''}`;
  }
}
