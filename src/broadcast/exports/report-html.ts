/**
 * The self-contained HTML report of `facecast analyze`: inline SVG charts rendered here, no scripts, no CDN,
 * so it opens anywhere (and offline) and can be attached to an e-mail.
 */
import { EMOTIONS, RACES } from '../../core/types.js';
import { AGE_BANDS } from '../../core/records.js';
import { EMOTION_RGB, hexColour } from '../palette.js';
import type { GroupSample, Summary } from './summary.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const W = 760;
const H = 180;
const PAD = 32;

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`. */
function niceStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Tick marks and labels: time along the bottom, share 0..1 on the left, valence −1..1 on the right. */
function axes(t0: number, t1: number, x: (t: number) => number): string {
  const out: string[] = [];
  const step = niceStep(t1 - t0, 8);
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
    const xx = x(t).toFixed(1);
    out.push(`<line x1="${xx}" y1="${H - PAD}" x2="${xx}" y2="${H - PAD + 4}" stroke="#555"/><text x="${xx}" y="${H - PAD + 15}" font-size="10" text-anchor="middle">${Number(t.toFixed(3))} s</text>`);
  }
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const yy = (H - PAD - v * (H - 2 * PAD)).toFixed(1);
    out.push(`<line x1="${PAD - 4}" y1="${yy}" x2="${PAD}" y2="${yy}" stroke="#555"/><text x="${PAD - 6}" y="${yy}" font-size="10" text-anchor="end" dominant-baseline="middle">${v}</text>`);
    out.push(`<text x="${W - PAD + 6}" y="${yy}" font-size="10" dominant-baseline="middle">${(2 * v - 1).toFixed(1)}</text>`);
  }
  out.push(`<text x="4" y="${PAD - 10}" font-size="10">share</text><text x="${W - 4}" y="${PAD - 10}" font-size="10" text-anchor="end">valence</text>`);
  return out.join('');
}

/** Samples that had faces: a panel needs two of them to draw anything over time. */
const chartable = (series: readonly GroupSample[]): GroupSample[] => series.filter((p) => p.faceCount > 0);

/** Stacked area chart of the emotion distribution over time. */
function emotionChart(series: readonly GroupSample[], t0: number, t1: number): string {
  const span = Math.max(1e-6, t1 - t0);
  const x = (t: number): number => PAD + ((t - t0) / span) * (W - 2 * PAD);
  const y = (v: number): number => H - PAD + -v * (H - 2 * PAD);
  const layers: string[] = [];
  const base = new Array<number>(series.length).fill(0);
  EMOTIONS.forEach((e, k) => {
    const top = series.map((s, i) => base[i] + (s.emotion[k] ?? 0));
    const upper = series.map((s, i) => `${x(s.t).toFixed(1)},${y(top[i]).toFixed(1)}`);
    const lower = series.map((s, i) => `${x(s.t).toFixed(1)},${y(base[i]).toFixed(1)}`).reverse();
    layers.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${hexColour(EMOTION_RGB[e])}" opacity="0.85"><title>${e}</title></polygon>`);
    for (let i = 0; i < base.length; i++) base[i] = top[i];
  });
  const valence = series.map((s) => `${x(s.t).toFixed(1)},${(H / 2 - (s.valence * (H - 2 * PAD)) / 2).toFixed(1)}`).join(' ');
  const cohesion = series.map((s) => `${x(s.t).toFixed(1)},${y(s.cohesion).toFixed(1)}`).join(' ');
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="emotion over time">
<rect x="${PAD}" y="${PAD}" width="${W - 2 * PAD}" height="${H - 2 * PAD}" fill="#f4f4f4"/>
${layers.join('\n')}
<polyline points="${valence}" fill="none" stroke="#000" stroke-width="2"><title>valence</title></polyline>
<polyline points="${cohesion}" fill="none" stroke="#fff" stroke-width="2" stroke-dasharray="4 3"><title>cohesion</title></polyline>
${axes(t0, t1, x)}
</svg>`;
}

function bars(entries: readonly [string, number][], label: string): string {
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const bw = (W - 2 * PAD) / Math.max(1, entries.length);
  const ticks: string[] = [];
  const step = Math.max(1, niceStep(max, 4));
  for (let v = 0; v <= max; v += step) {
    const yy = (H - PAD - (v / max) * (H - 2 * PAD)).toFixed(1);
    ticks.push(`<line x1="${PAD - 4}" y1="${yy}" x2="${W - PAD}" y2="${yy}" stroke="#ddd"/><text x="${PAD - 6}" y="${yy}" font-size="10" text-anchor="end" dominant-baseline="middle">${v}</text>`);
  }
  const rects = entries.map(([k, v], i) => {
    const h = (v / max) * (H - 2 * PAD);
    const x = PAD + i * bw + 6;
    return `<rect x="${x.toFixed(1)}" y="${(H - PAD - h).toFixed(1)}" width="${(bw - 12).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7bd1"/><text x="${(x + (bw - 12) / 2).toFixed(1)}" y="${H - PAD + 14}" font-size="11" text-anchor="middle">${esc(k)} (${v})</text>`;
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(label)}">${ticks.join('')}${rects.join('')}<text x="4" y="${PAD - 10}" font-size="10">tracks</text></svg>`;
}

export function renderReport(s: Summary): string {
  const t0 = 0;
  const t1 = Math.max(s.durationSec, 1);
  const legend = EMOTIONS.map((e) => `<span><i style="background:${hexColour(EMOTION_RGB[e])}"></i>${e}</span>`).join(' ');
  // A group seen with faces at fewer than two sample times (a short-lived cluster, a still image) has no line to
  // draw: it is listed, not given an empty panel.
  const charted = s.groups.filter((g) => chartable(g.series).length >= 2);
  const short = s.groups.filter((g) => !charted.includes(g));
  const groups =
    charted.map((g) => `<section><h3>${esc(g.name)} <small>${g.kind}</small></h3>${emotionChart(chartable(g.series), t0, t1)}</section>`).join('\n') +
    (short.length ? `\n<p class="muted">Not charted (faces at fewer than two 1-s samples): ${short.map((g) => `${esc(g.name)} (${g.kind})`).join(', ')}</p>` : '');
  const race = s.demographics.race;
  const rows = s.tracks
    .slice(0, 500)
    .map((t) => `<tr><td>${t.id}</td><td>${t.first.toFixed(1)}–${t.last.toFixed(1)} s</td><td>${t.dominant ?? '-'}</td><td>${t.age === null ? '-' : t.age.toFixed(0)}</td><td>${t.gender ?? '-'}</td>${race ? `<td>${t.race ?? '-'}</td>` : ''}</tr>`)
    .join('');
  const male = s.demographics.maleRatio;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>facecast — ${esc(s.source.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em auto;max-width:${W + 40}px;color:#222}h1{font-size:1.4em}small,.muted{color:#777}
.legend span{margin-right:1em}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}</style></head>
<body><h1>facecast report — ${esc(s.source.name)}</h1>
<p>${esc(s.source.input)} · ${s.source.width}×${s.source.height} · ${s.durationSec.toFixed(1)} s · ${s.framesAnalysed} frames analysed (${s.framesDetected} with detection) · ${s.tracks.length} tracks</p>
<h2>Emotion over time, per group</h2><p class="legend">${legend} · <b>—</b> valence (−1..1, middle = 0) · <b>- -</b> cohesion (0..1)</p>
${groups || '<p class="muted">no groups</p>'}
<h2>Demographic mix</h2><p>${male === null ? 'gender: -' : `men ${(100 * male).toFixed(0)} % · women ${(100 * (1 - male)).toFixed(0)} %`} (per track)</p>
${bars(AGE_BANDS.map((b) => [b, s.demographics.ageBands[b]]), 'age bands')}
${race ? `<p>race (per track; the model is unstable per crop)</p>${bars(RACES.map((r) => [r, race[r] ?? 0]), 'race')}` : ''}
<h2>Tracks</h2><table><tr><th>id</th><th>seen</th><th>dominant emotion</th><th>age</th><th>gender</th>${race ? '<th>race</th>' : ''}</tr>${rows}</table>
</body></html>
`;
}
