// The card's actions (edit, zones, remove) and the REST calls behind them, with each error shown next to the
// control the user used. app.js calls wireActions() once per card.
import { authHeaders } from './token.js';
import { ZoneEditor } from './zones.js';

/** @typedef {import('../src/broadcast/protocol.ts').StreamSummary} StreamSummary */
/**
 * What this module needs of a card (app.js makeCard).
 * @typedef {{ id: string, el: HTMLElement, config: StreamSummary['config'], error: HTMLOutputElement, zoneEditor: ZoneEditor | null }} Card
 */

/** The error message of a failed API response (the server's coded JSON error, else the HTTP status). @param {Response} r */
export async function errorText(r) {
  try {
    const body = await r.json();
    return body.error?.message ?? `HTTP ${r.status}`;
  } catch {
    return `HTTP ${r.status}`;
  }
}

/**
 * fetch with the token, a JSON body, and the server's error message thrown as an Error.
 * @param {string | null} token @param {string} url @param {RequestInit & {json?: unknown}} init
 */
export async function api(token, url, init = {}) {
  const headers = { ...authHeaders(token), ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) };
  const r = await fetch(url, { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body });
  if (!r.ok) throw new Error(await errorText(r));
  return r.status === 204 ? null : r.json();
}

/** @param {Card} c @param {string} text */
function cardError(c, text) {
  c.error.textContent = text;
  c.error.className = text ? 'card-error error' : 'card-error';
}

/**
 * The card's buttons: edit (name, source: PATCH), zones (the polygon editor on a snapshot: PATCH zones), remove
 * (DELETE, after a second click: no modal dialog). Each shows its error next to the button that was used.
 * @param {Card} c
 * @param {{ token: string | null, reload: () => Promise<void>, applyConfig: (c: Card, s: StreamSummary) => void }} app
 */
export function wireActions(c, { token, reload, applyConfig }) {
  const form = /** @type {HTMLFormElement} */ (c.el.querySelector('form.edit'));
  const removeBtn = /** @type {HTMLButtonElement} */ (c.el.querySelector('[data-act="remove"]'));
  const url = `/api/streams/${encodeURIComponent(c.id)}`;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let disarm;
  c.zoneEditor = new ZoneEditor(/** @type {HTMLElement} */ (c.el.querySelector('.zones-slot')), {
    zones: () => c.config.zones,
    fetchSnapshot: async () => {
      const r = await fetch(`${url}/snapshot.jpg?t=${Date.now()}`, { headers: authHeaders(token) });
      if (!r.ok) throw new Error(await errorText(r));
      return URL.createObjectURL(await r.blob());
    },
    save: async (zones) => {
      const info = await api(token, url, { method: 'PATCH', json: { zones } });
      applyConfig(c, info);
      return info.config.zones;
    },
  });
  c.el.querySelector('.actions')?.addEventListener('click', async (ev) => {
    const act = /** @type {HTMLElement} */ (ev.target).dataset?.act;
    if (!act) return;
    cardError(c, '');
    if (act === 'edit') {
      form.hidden = !form.hidden;
      /** @type {HTMLInputElement} */ (form.elements.namedItem('name')).value = c.config.name ?? '';
      /** @type {HTMLInputElement} */ (form.elements.namedItem('source')).value = c.config.source;
    } else if (act === 'zones') {
      if (c.zoneEditor?.visible) c.zoneEditor.hide();
      else await c.zoneEditor?.show();
    } else if (act === 'remove') {
      if (removeBtn.dataset.armed !== '1') {
        removeBtn.dataset.armed = '1';
        removeBtn.textContent = 'click again to remove';
        disarm = setTimeout(() => {
          removeBtn.dataset.armed = '';
          removeBtn.textContent = 'remove';
        }, 4000);
        return;
      }
      clearTimeout(disarm);
      removeBtn.disabled = true;
      try {
        await api(token, url, { method: 'DELETE' });
        await reload();
      } catch (e) {
        removeBtn.disabled = false;
        removeBtn.dataset.armed = '';
        removeBtn.textContent = 'remove';
        cardError(c, `remove failed: ${e instanceof Error ? e.message : e}`);
      }
    }
  });
  form.querySelector('[data-act="edit-cancel"]')?.addEventListener('click', () => (form.hidden = true));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    /** @type {Record<string, unknown>} */
    const patch = {};
    const name = String(f.get('name') ?? '').trim();
    const source = String(f.get('source') ?? '').trim();
    if (name !== (c.config.name ?? '')) patch.name = name || null;
    // The source is shown redacted (no credentials): sent only when changed, so a password is never overwritten by "***".
    if (source && source !== c.config.source) patch.source = source;
    if (Object.keys(patch).length === 0) return void (form.hidden = true);
    try {
      applyConfig(c, await api(token, url, { method: 'PATCH', json: patch }));
      form.hidden = true;
    } catch (e) {
      cardError(c, `not saved: ${e instanceof Error ? e.message : e}`);
    }
  });
}

