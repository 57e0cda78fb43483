// The groups of the dashboard: every group of a stream other than its scene (zones, clusters) as a row with its
// own emotion chart, and the camera groups (config `groups:`, several cameras) in a section of their own. Plain
// DOM and canvas, redrawn from the latest socket.io data by app.js once per animation frame.
import { Ring, drawEmotionBars, drawLine } from './charts.js';

/** @typedef {import('../src/core/records.ts').GroupRecord} GroupRecord */
/** @typedef {import('../src/core/records.ts').CameraGroupRecord} CameraGroupRecord */

const KIND_LABEL = { scene: 'scene', zone: 'zone', cluster: 'cluster' };

/** One group's line of figures. @param {{faceCount: number, dominant: string | null, valence: number, cohesion: number}} g */
function figures(g) {
  return `${g.faceCount} face${g.faceCount === 1 ? '' : 's'} · dominant ${g.dominant ?? '–'} · valence ${g.valence.toFixed(2)} · cohesion ${g.cohesion.toFixed(2)}`;
}

/**
 * A list of group rows, keyed by group id: rows are created once and updated in place (a cluster that goes
 * away loses its row), each with an emotion-distribution chart and a cohesion history.
 */
export class GroupList {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    /** @type {Map<string, {el: HTMLElement, title: HTMLElement, text: HTMLElement, bars: HTMLCanvasElement, line: HTMLCanvasElement, cohesion: Ring}>} */
    this.rows = new Map();
  }

  /**
   * @template {{id: string, kind?: string, name: string, faceCount: number, dominant: string | null, valence: number, cohesion: number, emotion: number[]}} G
   * @param {G[]} groups
   * @param {(g: G) => string} [extra] more text after the figures (camera groups: cameras live)
   */
  update(groups, extra) {
    const seen = new Set();
    for (const g of groups) {
      seen.add(g.id);
      let r = this.rows.get(g.id);
      if (!r) {
        const el = document.createElement('div');
        el.className = 'group';
        el.dataset.group = g.id;
        if (g.kind) el.dataset.kind = g.kind;
        const title = document.createElement('b');
        const text = document.createElement('span');
        text.className = 'muted';
        const bars = document.createElement('canvas');
        bars.className = 'g-emotion';
        bars.width = 200;
        bars.height = 70;
        const line = document.createElement('canvas');
        line.className = 'g-cohesion';
        line.width = 160;
        line.height = 40;
        const head = document.createElement('div');
        head.append(title, ' ', text);
        el.append(head, bars, line);
        this.root.append(el);
        r = { el, title, text, bars, line, cohesion: new Ring(60) };
        this.rows.set(g.id, r);
      }
      r.title.textContent = `${g.kind ? `${KIND_LABEL[/** @type {keyof typeof KIND_LABEL} */ (g.kind)] ?? g.kind}: ` : ''}${g.name}`;
      r.text.textContent = figures(g) + (extra ? ` · ${extra(g)}` : '');
      r.cohesion.push(g.cohesion);
      drawEmotionBars(r.bars, g.emotion);
      drawLine(r.line, r.cohesion.items, { max: 1, colour: '#2a9d8f' });
    }
    for (const [id, r] of this.rows) {
      if (seen.has(id)) continue;
      r.el.remove();
      this.rows.delete(id);
    }
    this.root.hidden = this.rows.size === 0;
  }

  clear() {
    this.update([]);
  }
}

/** Camera groups: `live/streams` says how many of a group's cameras currently contribute. @param {CameraGroupRecord} g */
export function cameraGroupExtra(g) {
  return `${g.live.length}/${g.streams.length} camera${g.streams.length === 1 ? '' : 's'} live (${g.streams.join(', ')})`;
}
