/**
 * Summary export: `<name>.summary.json` (per-track and per-group figures, group time series sampled at 1 Hz)
 * and `<name>.html`, a self-contained report (inline SVG, no scripts or CDN) with emotion over time per group
 * and the demographic mix. Memory is bounded by the number of tracks and by one sample per second per group.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EMOTIONS, type Emotion, type Race } from '../../core/types.js';
import { AGE_BANDS, ageBand, type FrameRecord, type GroupKind } from '../../core/records.js';
import type { Exporter, SourceInfo } from './types.js';
import { renderReport } from './report-html.js';

export interface GroupSample {
  t: number;
  faceCount: number;
  emotion: number[];
  valence: number;
  arousal: number;
  cohesion: number;
}

export interface TrackSummary {
  id: number;
  first: number;
  last: number;
  frames: number;
  /** Share of classified frames per smoothed emotion label, EMOTIONS order. */
  emotionShare: number[];
  dominant: Emotion | null;
  age: number | null;
  gender: 'male' | 'female' | null;
  male: number | null;
  /** Last smoothed race label; only when race estimation ran. */
  race?: Race;
}

export interface Summary {
  source: SourceInfo;
  framesAnalysed: number;
  framesDetected: number;
  durationSec: number;
  tracks: TrackSummary[];
  groups: { id: string; kind: GroupKind; name: string; series: GroupSample[] }[];
  demographics: { maleRatio: number | null; ageBands: Record<(typeof AGE_BANDS)[number], number>; race?: Partial<Record<Race, number>> };
}

interface TrackAcc {
  first: number;
  last: number;
  frames: number;
  labels: number[];
  age: number | null;
  male: number | null;
  race: Race | null;
}

export class SummaryExporter implements Exporter {
  readonly path: string;
  readonly htmlPath: string;
  #source: SourceInfo | undefined;
  #frames = 0;
  #detected = 0;
  #lastTime = 0;
  readonly #tracks = new Map<number, TrackAcc>();
  readonly #groups = new Map<string, { kind: GroupKind; name: string; series: GroupSample[]; nextT: number }>();
  #ended = false;
  #title: string | undefined;
  readonly #inputs: string[] = [];

  constructor(jsonPath: string, htmlPath: string) {
    this.path = jsonPath;
    this.htmlPath = htmlPath;
  }

  /**
   * Names the summary after more than its first input (a list of photos): the title replaces the source's
   * name, and the input becomes the list of inputs seen.
   */
  setTitle(title: string): void {
    this.#title = title;
  }

  frame(rec: FrameRecord, source: SourceInfo): void {
    this.#source ??= source;
    if (this.#inputs[this.#inputs.length - 1] !== source.input) this.#inputs.push(source.input);
    this.#frames++;
    if (rec.detected) this.#detected++;
    this.#lastTime = rec.time;
    for (const f of rec.faces) {
      let t = this.#tracks.get(f.trackId);
      if (!t) {
        t = { first: rec.time, last: rec.time, frames: 0, labels: new Array<number>(EMOTIONS.length).fill(0), age: null, male: null, race: null };
        this.#tracks.set(f.trackId, t);
      }
      t.last = rec.time;
      t.frames++;
      const v = f.smoothed ?? f.raw;
      if (v?.emotion) t.labels[EMOTIONS.indexOf(v.emotion.label)]++;
      if (v?.age !== undefined) t.age = v.age;
      if (v?.gender) t.male = v.gender.male;
      if (v?.race) t.race = v.race.label;
    }
    for (const g of rec.groups) {
      let acc = this.#groups.get(g.id);
      if (!acc) {
        acc = { kind: g.kind, name: g.name, series: [], nextT: rec.time };
        this.#groups.set(g.id, acc);
      }
      if (rec.time >= acc.nextT) {
        acc.series.push({ t: rec.time, faceCount: g.faceCount, emotion: g.emotion.slice(), valence: g.valence, arousal: g.arousal, cohesion: g.cohesion });
        acc.nextT = rec.time + 1;
      }
    }
  }

  summary(): Summary {
    const first = this.#source ?? { input: '', name: '', width: 0, height: 0, fps: 0 };
    const src = this.#title === undefined ? first : { ...first, name: this.#title, input: this.#inputs.join(', ') };
    const tracks: TrackSummary[] = [...this.#tracks.entries()].map(([id, t]) => {
      const total = t.labels.reduce((a, b) => a + b, 0);
      const share = t.labels.map((c) => (total ? c / total : 0));
      const best = total ? share.indexOf(Math.max(...share)) : -1;
      const out: TrackSummary = { id, first: t.first, last: t.last, frames: t.frames, emotionShare: share, dominant: best >= 0 ? EMOTIONS[best] : null, age: t.age, gender: t.male === null ? null : t.male >= 0.5 ? 'male' : 'female', male: t.male };
      if (t.race) out.race = t.race;
      return out;
    });
    let race: Partial<Record<Race, number>> | undefined;
    for (const t of tracks) if (t.race) (race ??= {})[t.race] = (race[t.race] ?? 0) + 1;
    const bands = Object.fromEntries(AGE_BANDS.map((b) => [b, 0])) as Record<(typeof AGE_BANDS)[number], number>;
    let men = 0;
    let gendered = 0;
    for (const t of tracks) {
      if (t.age !== null) bands[ageBand(t.age)]++;
      if (t.male !== null) {
        gendered++;
        if (t.male >= 0.5) men++;
      }
    }
    return {
      source: src,
      framesAnalysed: this.#frames,
      framesDetected: this.#detected,
      durationSec: this.#lastTime,
      tracks,
      groups: [...this.#groups.entries()].map(([id, g]) => ({ id, kind: g.kind, name: g.name, series: g.series })),
      demographics: { maleRatio: gendered ? men / gendered : null, ageBands: bands, ...(race ? { race } : {}) },
    };
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    const s = this.summary();
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.path, JSON.stringify(s, null, 1) + '\n');
    writeFileSync(this.htmlPath, renderReport(s));
  }
}
