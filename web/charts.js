// Small <canvas> charts for the dashboard, no library: each function clears its canvas and draws one picture
// from plain numbers, so the page can redraw at any rate. Sizes come from the canvas' own width/height attributes.

/** Colours of src/broadcast/palette.ts (EMOTION_RGB), in EMOTIONS order. */
export const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
export const COLOURS = { angry: '#e63946', disgust: '#6a994e', fear: '#9b5de5', happy: '#ffc828', sad: '#3a86ff', surprise: '#ff8000', neutral: '#c8c8c8' };
export const AGE_BANDS = ['0-17', '18-29', '30-44', '45-59', '60+'];
const INK = '#555';
const GRID = '#e4e4e4';

/** A fixed-size history: the oldest value goes when a new one comes (a minute of groups at 2/s by default). */
export class Ring {
  constructor(size = 120) {
    this.size = size;
    /** @type {number[]} */
    this.items = [];
  }
  /** @param {number} v */
  push(v) {
    this.items.push(v);
    if (this.items.length > this.size) this.items.shift();
  }
}

/** @param {HTMLCanvasElement} canvas */
function clear(canvas) {
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  return ctx;
}

/** Emotion distribution: one horizontal bar per emotion, 0..1. @param {HTMLCanvasElement} canvas @param {number[]} probs */
export function drawEmotionBars(canvas, probs) {
  const ctx = clear(canvas);
  const left = 52;
  const row = canvas.height / EMOTIONS.length;
  EMOTIONS.forEach((e, i) => {
    const p = probs[i] ?? 0;
    const y = i * row;
    ctx.fillStyle = INK;
    ctx.fillText(e, 2, y + row / 2);
    ctx.fillStyle = COLOURS[e];
    ctx.fillRect(left, y + 2, Math.max(1, (canvas.width - left - 30) * p), row - 4);
    ctx.fillStyle = INK;
    ctx.fillText(`${Math.round(p * 100)}%`, canvas.width - 28, y + row / 2);
  });
}

/**
 * Valence (x) / arousal (y) on Russell's circumplex, both −1..1: the emotions' positions as faint labels, the
 * recent trail as a fading line, the current point as a dot.
 * @param {HTMLCanvasElement} canvas @param {{v: number, a: number}[]} trail oldest first
 */
export function drawCircumplex(canvas, trail) {
  const ctx = clear(canvas);
  const r = Math.min(canvas.width, canvas.height) / 2 - 8;
  const cx = canvas.width / 2;
  const cy = canvas.height / 2;
  const at = (/** @type {{v: number, a: number}} */ p) => [cx + p.v * r, cy - p.a * r];
  ctx.strokeStyle = GRID;
  ctx.beginPath();
  ctx.arc(cx, cy, r, 0, 2 * Math.PI);
  ctx.moveTo(cx - r, cy);
  ctx.lineTo(cx + r, cy);
  ctx.moveTo(cx, cy - r);
  ctx.lineTo(cx, cy + r);
  ctx.stroke();
  ctx.fillStyle = '#aaa';
  ctx.textAlign = 'center';
  ctx.fillText('arousal', cx, 6);
  ctx.textAlign = 'right';
  ctx.fillText('valence', canvas.width - 2, cy + 8);
  ctx.textAlign = 'left';
  for (let i = 1; i < trail.length; i++) {
    ctx.strokeStyle = `rgba(32, 35, 42, ${(0.6 * i) / trail.length})`;
    ctx.beginPath();
    ctx.moveTo(...at(trail[i - 1]));
    ctx.lineTo(...at(trail[i]));
    ctx.stroke();
  }
  const last = trail.at(-1);
  if (!last) return;
  const [x, y] = at(last);
  ctx.fillStyle = '#e63946';
  ctx.beginPath();
  ctx.arc(x, y, 5, 0, 2 * Math.PI);
  ctx.fill();
}

/**
 * A time series as a line with its current value; the y axis spans [min, max] (max grows with the data when
 * `max` is null, as for face counts). @param {HTMLCanvasElement} canvas @param {number[]} values
 * @param {{min?: number, max?: number | null, colour?: string, format?: (v: number) => string}} [opts]
 */
export function drawLine(canvas, values, { min = 0, max = null, colour = '#3a86ff', format = (v) => v.toFixed(2) } = {}) {
  const ctx = clear(canvas);
  // Headroom above the largest count, so a flat line does not sit on the top edge under the max label.
  const top = max ?? Math.max(1, Math.ceil(Math.max(0, ...values) * 1.25));
  const w = canvas.width - 34;
  const h = canvas.height - 4;
  const y = (/** @type {number} */ v) => 2 + h - ((v - min) / (top - min || 1)) * h;
  ctx.strokeStyle = GRID;
  ctx.beginPath();
  for (const v of [min, (min + top) / 2, top]) {
    ctx.moveTo(0, y(v));
    ctx.lineTo(w, y(v));
  }
  ctx.stroke();
  ctx.fillStyle = '#aaa';
  ctx.fillText(format(top), w + 2, 8);
  if (values.length === 0) return;
  const step = w / Math.max(1, values.length - 1);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((v, i) => (i === 0 ? ctx.moveTo(0, y(v)) : ctx.lineTo(i * step, y(v))));
  ctx.stroke();
  ctx.lineWidth = 1;
  const last = values[values.length - 1];
  ctx.fillStyle = colour;
  ctx.fillText(format(last), w + 2, Math.min(canvas.height - 6, Math.max(18, y(last))));
}

/**
 * Demographic mix: a men/women ratio bar on top, the age bands as columns below.
 * @param {HTMLCanvasElement} canvas @param {number | null} maleRatio @param {number[]} ageBands counts
 */
export function drawDemographics(canvas, maleRatio, ageBands) {
  const ctx = clear(canvas);
  const w = canvas.width;
  if (maleRatio === null) {
    ctx.fillStyle = GRID;
    ctx.fillRect(0, 2, w, 14);
  } else {
    ctx.fillStyle = '#3a86ff';
    ctx.fillRect(0, 2, w * maleRatio, 14);
    ctx.fillStyle = '#ff5fa2';
    ctx.fillRect(w * maleRatio, 2, w * (1 - maleRatio), 14);
    ctx.fillStyle = '#fff';
    ctx.fillText(`♂ ${Math.round(maleRatio * 100)}%`, 4, 9);
    ctx.textAlign = 'right';
    ctx.fillText(`♀ ${Math.round((1 - maleRatio) * 100)}%`, w - 4, 9);
    ctx.textAlign = 'left';
  }
  const most = Math.max(1, ...ageBands);
  const col = w / AGE_BANDS.length;
  const base = canvas.height - 12;
  const tall = base - 24;
  AGE_BANDS.forEach((band, i) => {
    const n = ageBands[i] ?? 0;
    const hh = (n / most) * tall;
    ctx.fillStyle = '#8d99ae';
    ctx.fillRect(i * col + 4, base - hh, col - 8, hh);
    ctx.fillStyle = INK;
    ctx.textAlign = 'center';
    ctx.fillText(band, i * col + col / 2, canvas.height - 5);
    if (n > 0) ctx.fillText(String(n), i * col + col / 2, base - hh - 6);
    ctx.textAlign = 'left';
  });
}
