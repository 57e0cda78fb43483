import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvExporter, CSV_COLUMNS } from '../../../src/broadcast/exports/csv.ts';
import { JsonlExporter } from '../../../src/broadcast/exports/jsonl.ts';
import { AssExporter, assTime } from '../../../src/broadcast/exports/ass.ts';
import { SummaryExporter } from '../../../src/broadcast/exports/summary.ts';
import type { FrameRecord } from '../../../src/core/records.ts';
import type { SourceInfo } from '../../../src/broadcast/exports/types.ts';

const src: SourceInfo = { input: 'clips/a,b.mp4', name: 'a,b', width: 640, height: 360, fps: 25, durationSec: 2 };
const happy = [0, 0, 0, 0.9, 0, 0, 0.1];
const sad = [0.05, 0, 0, 0, 0.9, 0, 0.05];

function frames(): FrameRecord[] {
  const out: FrameRecord[] = [];
  for (let i = 0; i < 50; i += 5) {
    const t = i / 25;
    out.push({
      frame: i,
      time: t,
      width: 640,
      height: 360,
      detected: i % 10 === 0,
      faces: [
        { trackId: 1, box: { x: 100 + i, y: 50, w: 80, h: 80 }, score: 0.93, status: 'ok', raw: { emotion: { label: 'happy', probs: happy }, age: 30.2, gender: { label: 'female', male: 0.1 } }, smoothed: { emotion: { label: 'happy', probs: happy }, age: 29.5, gender: { label: 'female', male: 0.12 } } },
        { trackId: 2, box: { x: 400, y: 60, w: 20, h: 20 }, score: 0.71, status: 'too-small' },
      ],
      groups: [{ id: 'scene', kind: 'scene', name: 'scene', faceCount: 2, members: [1, 2], emotion: i < 25 ? happy : sad, dominant: i < 25 ? 'happy' : 'sad', valence: i < 25 ? 0.8 : -0.7, arousal: 0.2, cohesion: 1, trend: 0, trendLabel: 'steady', maleRatio: 0, ageBands: [0, 0, 1, 0, 0] }],
    });
  }
  return out;
}

test('CSV: documented header, one row per face per frame, quoted file names, empty cells for absent values', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-exp-'));
  const e = new CsvExporter(join(dir, 'a.csv'));
  for (const f of frames()) e.frame(f, src);
  await e.end();
  await e.end();
  const lines = readFileSync(join(dir, 'a.csv'), 'utf8').trim().split('\n');
  assert.equal(lines[0], CSV_COLUMNS.join(','));
  assert.equal(lines.length, 1 + 10 * 2);
  const row = lines[1].replace('"clips/a,b.mp4"', 'FILE').split(',');
  assert.equal(row.length, CSV_COLUMNS.length);
  const col = (name: string) => row[CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number])];
  assert.equal(row[0], 'FILE');
  assert.equal(col('track_id'), '1');
  assert.equal(col('emotion'), 'happy');
  assert.equal(col('p_happy'), '0.9000');
  assert.equal(col('age_smoothed'), '29.5');
  const small = lines[2].replace('"clips/a,b.mp4"', 'FILE').split(',');
  assert.equal(small[CSV_COLUMNS.indexOf('status')], 'too-small');
  assert.equal(small[CSV_COLUMNS.indexOf('emotion')], '');
});

test('JSONL: a source line, then one parseable frame object per analysed frame with faces and groups', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-exp-'));
  const e = new JsonlExporter(join(dir, 'a.jsonl'));
  for (const f of frames()) e.frame(f, src);
  await e.end();
  const objs = readFileSync(join(dir, 'a.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; faces?: unknown[]; groups?: { id: string }[]; width?: number });
  assert.equal(objs[0].type, 'source');
  assert.equal(objs[0].width, 640);
  assert.equal(objs.length, 11);
  assert.equal(objs[1].type, 'frame');
  assert.equal(objs[1].faces?.length, 2);
  assert.equal(objs[1].groups?.[0].id, 'scene');
});

test('ASS: valid sections, play resolution of the source, each face shown until the next analysed frame', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-exp-'));
  const e = new AssExporter(join(dir, 'a.ass'));
  for (const f of frames()) e.frame(f, src);
  await e.end();
  const text = readFileSync(join(dir, 'a.ass'), 'utf8');
  for (const s of ['[Script Info]', '[V4+ Styles]', '[Events]']) assert.ok(text.includes(s), s);
  assert.match(text, /PlayResX: 640\nPlayResY: 360/);
  const dialogues = text.split('\n').filter((l) => l.startsWith('Dialogue:'));
  // per frame: 2 boxes + 2 labels + 1 panel
  assert.equal(dialogues.length, 10 * 5);
  const format = text.split('\n').find((l) => l.startsWith('Format: Layer'))!.slice(8).split(', ');
  for (const d of dialogues) {
    const fields = d.slice(10).split(',');
    assert.ok(fields.length >= format.length);
    const [start, end] = [fields[1], fields[2]];
    assert.match(start, /^\d:\d\d:\d\d\.\d\d$/);
    assert.ok(end > start, `${start} < ${end}`);
  }
  assert.ok(dialogues[0].includes('0:00:00.00,0:00:00.20'), 'first frame lasts until the next analysed frame (0.2 s)');
  assert.ok(text.includes('#1 happy 90% 30y F'));
  assert.ok(text.includes('#2 too small'));
  assert.equal(assTime(3725.456), '1:02:05.46');
});

test('summary: JSON with per-track and per-group figures and a self-contained HTML report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-exp-'));
  const e = new SummaryExporter(join(dir, 'a.summary.json'), join(dir, 'a.html'));
  for (const f of frames()) e.frame(f, src);
  await e.end();
  const s = JSON.parse(readFileSync(join(dir, 'a.summary.json'), 'utf8')) as { framesAnalysed: number; framesDetected: number; tracks: { id: number; dominant: string | null; gender: string | null }[]; groups: { id: string; series: { t: number; valence: number }[] }[] };
  assert.equal(s.framesAnalysed, 10);
  assert.equal(s.framesDetected, 5);
  assert.deepEqual(s.tracks.map((t) => [t.id, t.dominant, t.gender]), [[1, 'happy', 'female'], [2, null, null]]);
  const scene = s.groups.find((g) => g.id === 'scene')!;
  assert.ok(scene.series.length >= 2 && scene.series.length <= 3, 'sampled at 1 Hz over 1.8 s');
  assert.ok(scene.series[0].valence > 0 && scene.series[scene.series.length - 1].valence < 0);
  const html = readFileSync(join(dir, 'a.html'), 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.ok(html.includes('<svg'));
  assert.ok(!/<script|https?:\/\//.test(html.replace(/xmlns="[^"]*"/g, '')), 'no scripts, no remote resources');
  assert.ok(html.includes('a,b'));
});
