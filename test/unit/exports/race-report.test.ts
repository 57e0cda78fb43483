import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvExporter, CSV_COLUMNS, RACE_COLUMNS } from '../../../src/broadcast/exports/csv.ts';
import { SummaryExporter } from '../../../src/broadcast/exports/summary.ts';
import { renderReport } from '../../../src/broadcast/exports/report-html.ts';
import { frameSummary } from '../../../src/broadcast/protocol.ts';
import type { FrameRecord, GroupRecord } from '../../../src/core/records.ts';
import type { SourceInfo } from '../../../src/broadcast/exports/types.ts';

const src: SourceInfo = { input: 'a.mp4', name: 'a', width: 640, height: 360, fps: 25, durationSec: 4 };
const happy = [0, 0, 0, 0.9, 0, 0, 0.1];
const asian = { label: 'asian' as const, probs: [0.1, 0.05, 0.8, 0.03, 0.02] };

function group(id: string, kind: GroupRecord['kind'], faceCount: number): GroupRecord {
  return { id, kind, name: id, faceCount, members: faceCount ? [1] : [], emotion: happy, dominant: 'happy', valence: 0.5, arousal: 0.1, cohesion: 1, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [0, 1, 0, 0, 0] };
}

function frames(): FrameRecord[] {
  const out: FrameRecord[] = [];
  for (let i = 0; i < 100; i += 5) {
    const t = i / 25;
    out.push({
      frame: i, time: t, width: 640, height: 360, detected: true,
      faces: [{ trackId: 1, box: { x: 10, y: 10, w: 80, h: 80 }, score: 0.9, status: 'ok', raw: { age: 30, race: asian }, smoothed: { age: 30, race: asian } }],
      // a cluster seen on one sample only: it must not get an empty panel
      groups: [group('scene', 'scene', 1), ...(i === 50 ? [group('cluster-1', 'cluster', 1)] : [])],
    });
  }
  return out;
}

test('race: CSV columns only when on, summary per track and per label, live faces payload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-race-'));
  const on = new CsvExporter(join(dir, 'on.csv'), { race: true });
  const off = new CsvExporter(join(dir, 'off.csv'));
  const sum = new SummaryExporter(join(dir, 's.json'), join(dir, 's.html'));
  for (const f of frames()) for (const e of [on, off, sum]) e.frame(f, src);
  for (const e of [on, off, sum]) await e.end();
  const [head, row] = readFileSync(join(dir, 'on.csv'), 'utf8').split('\n');
  assert.equal(head, [...CSV_COLUMNS, ...RACE_COLUMNS].join(','));
  assert.deepEqual(row.split(',').slice(-4), ['asian', '0.800', 'asian', '0.800']);
  assert.equal(readFileSync(join(dir, 'off.csv'), 'utf8').split('\n')[0], CSV_COLUMNS.join(','));
  const s = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as { tracks: { race?: string }[]; demographics: { race?: Record<string, number> } };
  assert.equal(s.tracks[0].race, 'asian');
  assert.deepEqual(s.demographics.race, { asian: 1 });
  assert.deepEqual(frameSummary(frames()[0]).faces[0].race, { label: 'asian', probs: [0.1, 0.05, 0.8, 0.03, 0.02] });
  const plain = frames()[0];
  delete plain.faces[0].smoothed!.race;
  assert.equal('race' in frameSummary(plain).faces[0], false, 'absent unless race is on');
});

test('report: charts have axis ticks, a group with no line to draw gets no empty panel, a race chart when race ran', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-report-'));
  const e = new SummaryExporter(join(dir, 'a.json'), join(dir, 'a.html'));
  for (const f of frames()) e.frame(f, src);
  const html = renderReport(e.summary());
  assert.equal((html.match(/<svg[^>]*aria-label="emotion over time"/g) ?? []).length, 1, 'scene charted, the one-sample cluster not');
  assert.match(html, /Not charted[^<]*cluster-1/);
  for (const t of ['0 s', '1 s', '2 s', '3 s']) assert.ok(html.includes(`>${t}</text>`), `x tick ${t}`);
  for (const v of ['0', '0.5', '1']) assert.ok(html.includes(`dominant-baseline="middle">${v}</text>`), `y tick ${v}`);
  assert.ok(html.includes('aria-label="race"') && html.includes('<th>race</th>'));
});
