/**
 * The self-contained HTML report of `facecast analyze`: inline SVG charts rendered here, no scripts, no CDN,
 * so it opens anywhere (and offline) and can be attached to an e-mail.
 */
import { EMOTIONS } from '../../core/types.js';
import { AGE_BANDS } from '../../core/records.js';
import { EMOTION_RGB, hexColour } from '../palette.js';
import type { GroupSample, Summary } from './summary.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const W = 760;
const H = 180;
const PAD = 32;

/** Stacked area chart of the emotion distribution over time. */
function emotionChart(series: readonly GroupSample[], t0: number, t1: number): string {
  if (series.length === 0) return '<p class="muted">no data</p>';
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
<text x="${PAD}" y="${H - 8}" font-size="11">${t0.toFixed(0)} s</text><text x="${W - PAD}" y="${H - 8}" font-size="11" text-anchor="end">${t1.toFixed(0)} s</text>
</svg>`;
}

function bars(entries: readonly [string, number][]): string {
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const bw = (W - 2 * PAD) / Math.max(1, entries.length);
  const rects = entries.map(([k, v], i) => {
    const h = (v / max) * (H - 2 * PAD);
    const x = PAD + i * bw + 6;
    return `<rect x="${x.toFixed(1)}" y="${(H - PAD - h).toFixed(1)}" width="${(bw - 12).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7bd1"/><text x="${(x + (bw - 12) / 2).toFixed(1)}" y="${H - PAD + 14}" font-size="11" text-anchor="middle">${esc(k)} (${v})</text>`;
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="age bands">${rects.join('')}</svg>`;
}

export function renderReport(s: Summary): string {
  const t0 = 0;
  const t1 = Math.max(s.durationSec, 1);
  const legend = EMOTIONS.map((e) => `<span><i style="background:${hexColour(EMOTION_RGB[e])}"></i>${e}</span>`).join(' ');
  const groups = s.groups
    .map((g) => `<section><h3>${esc(g.name)} <small>${g.kind}</small></h3>${emotionChart(g.series, t0, t1)}</section>`)
    .join('\n');
  const rows = s.tracks
    .slice(0, 500)
    .map((t) => `<tr><td>${t.id}</td><td>${t.first.toFixed(1)}–${t.last.toFixed(1)} s</td><td>${t.dominant ?? '-'}</td><td>${t.age === null ? '-' : t.age.toFixed(0)}</td><td>${t.gender ?? '-'}</td></tr>`)
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
${bars(AGE_BANDS.map((b) => [b, s.demographics.ageBands[b]]))}
<h2>Tracks</h2><table><tr><th>id</th><th>seen</th><th>dominant emotion</th><th>age</th><th>gender</th></tr>${rows}</table>
</body></html>
`;
}
