/**
 * `facecast analyze INPUT...`: videos (files, http(s), RTSP) and still images → tracked, classified faces and
 * group emotion, written as CSV, JSONL, ASS subtitles, an annotated MP4 and a summary (JSON + HTML report).
 * An input that fails is reported and the others still run; the exit code is 1 if any failed.
 */
import { basename, extname, join, resolve } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { AbortError, InputError, UsageError, errorMessage, fromSystemError } from '../core/errors.js';
import type { FrameRecord } from '../core/records.js';
import { envManifests } from '../inference/engine.js';
import { WorkerEngine, type WorkerEngineOptions } from '../inference/worker/client.js';
import { SplitEngine } from '../inference/split.js';
import type { Engine } from '../inference/api.js';
import type { ExecutionProvider } from '../inference/session.js';
import { isImagePath, loadImage } from '../ingest/image.js';
import { VideoSource } from '../ingest/video.js';
import { configureFfmpegLog, ffmpegLogScope } from '../ingest/ffmpeg-log.js';
import { errorLine } from './error-line.js';
import { quietLogging } from '../core/log.js';
import { FrameAnalyzer, toGroupRecord } from '../pipeline/analyzer.js';
import { GroupAggregator } from '../pipeline/groups/index.js';
import { analyzeSource } from '../pipeline/pipelined.js';
import { validateZones, type ZoneConfig } from '../pipeline/groups/index.js';
import { CsvExporter } from '../broadcast/exports/csv.js';
import { JsonlExporter } from '../broadcast/exports/jsonl.js';
import { AssExporter } from '../broadcast/exports/ass.js';
import { SummaryExporter } from '../broadcast/exports/summary.js';
import { Mp4Writer } from '../broadcast/exports/mp4.js';
import type { Exporter, SourceInfo } from '../broadcast/exports/types.js';
import { atlasFor, type GlyphAtlas } from '../broadcast/overlay/font.js';
import { parseCommandArgs } from './args.js';
import { Progress } from './progress.js';

const FORMATS = ['csv', 'jsonl', 'ass', 'mp4', 'summary'] as const;
type Format = (typeof FORMATS)[number];

const HELP = `Usage: facecast analyze INPUT... [options]

INPUT: video files, http(s) or rtsp:// URLs, or still images (JPEG, PNG, WebP; a list of images gives one CSV).

Options:
  --out DIR            output folder (default: out)
  --format LIST        comma-separated: ${FORMATS.join(',')} (default: csv,jsonl,ass,summary)
  --fps F              analysis rate in frames per second (default: every frame); lower rates skip decoding
                       where the codec allows
  --detect-every N     run the detector every N analysed frames, track in between (default: ~5 detections/s)
  --max-width PX       downscale frames wider than this before analysis (default: 1920)
  --tiling auto|off    overlapping detector tiles on large frames to find small faces (default: auto)
  --zones FILE         JSON array of zones: [{"id":"stage","name":"Stage","polygon":[[x,y],...]}] (0..1 coords)
  --race               also estimate race (off by default)
  --tta                mirror test-time augmentation for the classifiers (slower, steadier)
  --manifest FILE      extra model manifest (repeatable; also FACECAST_MODELS)
  --provider cpu|cuda  inference provider (default cpu)
  --threads N          intra-op threads per model (default: 1 for the detector, 2 for the classifiers)
  --quiet              no progress output
`;

interface Args {
  inputs: string[];
  out: string;
  formats: Set<Format>;
  fps: number | undefined;
  detectEvery: number | undefined;
  maxWidth: number;
  tiling: 'auto' | 'off';
  zones: ZoneConfig[];
  race: boolean;
  tta: boolean;
  manifests: string[];
  provider: ExecutionProvider;
  /** --threads, when given (else 1 for the detector and up to 2 for the classifiers). */
  threads: number | undefined;
  quiet: boolean;
}

function positive(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`analyze: --${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  return n;
}

export function parseAnalyzeArgs(argv: string[]): Args | 'help' {
  const { values: v, positionals } = parseCommandArgs('analyze', {
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      format: { type: 'string' },
      fps: { type: 'string' },
      'detect-every': { type: 'string' },
      'max-width': { type: 'string' },
      tiling: { type: 'string' },
      zones: { type: 'string' },
      race: { type: 'boolean' },
      tta: { type: 'boolean' },
      manifest: { type: 'string', multiple: true },
      provider: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return 'help';
  if (positionals.length === 0) throw new UsageError('analyze: give at least one INPUT (see `facecast analyze --help`)');
  const formats = new Set<Format>();
  for (const f of (v.format ?? 'csv,jsonl,ass,summary').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`analyze: unknown format "${f}" (${FORMATS.join(', ')})`);
    formats.add(f as Format);
  }
  if (v.tiling !== undefined && v.tiling !== 'auto' && v.tiling !== 'off') throw new UsageError('analyze: --tiling must be auto or off');
  if (v.provider !== undefined && v.provider !== 'cpu' && v.provider !== 'cuda') throw new UsageError('analyze: --provider must be cpu or cuda');
  let zones: ZoneConfig[] = [];
  if (v.zones) {
    try {
      const raw = JSON.parse(readFileSync(v.zones, 'utf8')) as ZoneConfig[];
      // `name` defaults to the id, as in the server's config (docs/config.md): one rule for both.
      zones = validateZones(Array.isArray(raw) ? raw.map((z) => (z && typeof z === 'object' && z.name === undefined ? { ...z, name: z.id } : z)) : raw);
    } catch (e) {
      throw new UsageError(`analyze: --zones ${v.zones}: ${errorMessage(e)}`);
    }
  }
  return {
    inputs: positionals,
    out: resolve(v.out ?? 'out'),
    formats,
    fps: positive('fps', v.fps, false),
    detectEvery: positive('detect-every', v['detect-every'], true),
    maxWidth: positive('max-width', v['max-width'], true) ?? 1920,
    tiling: (v.tiling as 'auto' | 'off' | undefined) ?? 'auto',
    zones,
    race: v.race ?? false,
    tta: v.tta ?? false,
    manifests: v.manifest ?? envManifests(),
    provider: (v.provider as ExecutionProvider | undefined) ?? 'cpu',
    threads: positive('threads', v.threads, true),
    quiet: v.quiet ?? false,
  };
}

function nameOf(input: string): string {
  const b = basename(input.replace(/[?#].*$/, ''));
  return (b.slice(0, b.length - extname(b).length) || 'stream').replace(/[^\w.-]+/g, '_');
}

/**
 * Output names for the inputs, in order: the input's base name, with -2, -3, … for later inputs that would
 * otherwise share it (two `clip.mp4` from different folders must not overwrite each other's outputs).
 */
export function uniqueNames(inputs: readonly string[], taken: Iterable<string> = []): string[] {
  const used = new Set(taken);
  return inputs.map((input) => {
    const base = nameOf(input);
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}-${k}`;
    used.add(name);
    return name;
  });
}

/** Removes the files of outputs that received nothing (a header-only CSV or an empty report would mislead). */
function removeOutputs(exporters: readonly Exporter[], extra: (string | undefined)[] = []): void {
  for (const p of [...exporters.flatMap((e) => (e instanceof SummaryExporter ? [e.path, e.htmlPath] : [e.path])), ...extra]) if (p) rmSync(p, { force: true });
}

/** `timeline` false (still images): no ASS, whose file would otherwise be created empty. */
function exportersFor(a: Args, name: string, timeline = true): Exporter[] {
  const base = join(a.out, name);
  const out: Exporter[] = [];
  if (a.formats.has('csv')) out.push(new CsvExporter(`${base}.csv`, { race: a.race }));
  if (a.formats.has('jsonl')) out.push(new JsonlExporter(`${base}.jsonl`));
  if (a.formats.has('ass') && timeline) out.push(new AssExporter(`${base}.ass`));
  if (a.formats.has('summary')) out.push(new SummaryExporter(`${base}.summary.json`, `${base}.html`));
  return out;
}

export async function analyzeCommand(argv: string[]): Promise<number> {
  const a = parseAnalyzeArgs(argv);
  if (a === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  configureFfmpegLog();
  // Before the engine starts: its worker thread takes its log levels from the environment at construction.
  if (a.quiet) quietLogging();
  const images = a.inputs.filter(isImagePath);
  const videos = a.inputs.filter((i) => !isImagePath(i));
  // Videos: the detector and the classifiers on two worker threads (SplitEngine), so that the next detection
  // runs while this frame's faces are classified. The classifiers take a second intra-op thread: they are the
  // longest stage (bench/results/analyze.md); the detector's small runs gain nothing from one.
  const opts: WorkerEngineOptions = {
    manifests: a.manifests,
    provider: a.provider,
    detectorThreads: a.threads ?? 1,
    classifierThreads: a.threads ?? Math.min(2, availableParallelism()),
    classifier: { race: a.race, tta: a.tta },
    // Detections down to 0.3 reach the tracker: its second (ByteTrack) stage keeps tracks alive with them.
    detector: { minScore: 0.3, tiling: { mode: a.tiling, tileSize: 640, overlap: 0.25, minScore: 0.55 } },
  };
  const engine: Engine = videos.length > 0 ? await SplitEngine.create(opts) : await WorkerEngine.create(opts);
  let failed = 0;
  // Ctrl-C / SIGTERM: stop reading, flush what was analysed (every export is valid up to there), exit 130.
  const ctl = new AbortController();
  const onSignal = (sig: string): void => {
    process.stderr.write(`facecast: ${sig}: stopping; writing the outputs analysed so far\n`);
    ctl.abort(new AbortError(`interrupted by ${sig}`));
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    if (images.length) failed += await analyzeImages(a, engine, images);
    const names = uniqueNames(videos, images.length ? [images.length === 1 ? nameOf(images[0]) : 'images'] : []);
    for (const [k, input] of videos.entries()) {
      if (ctl.signal.aborted) break;
      try {
        await analyzeVideo(a, engine, input, ctl.signal, names[k]);
      } catch (e) {
        if (ctl.signal.aborted) break;
        failed++;
        // An unwritable --out is E_IO, not a bare message; the input is named once (error-line.ts).
        process.stderr.write(errorLine(fromSystemError(e), input));
      }
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await engine.close();
  }
  if (ctl.signal.aborted) return 130;
  return failed ? 1 : 0;
}

async function analyzeVideo(a: Args, engine: Engine, input: string, signal: AbortSignal, name = nameOf(input)): Promise<void> {
  using _ffmpegLines = ffmpegLogScope(nameOf(input)); // libav lines name the input they come from
  await using src = await VideoSource.open(input, { fps: a.fps, maxWidth: a.maxWidth, letterbox: engine.detectorInputSize, signal });
  const fps = a.fps ?? src.fps ?? 25;
  const info: SourceInfo = { input, name, width: src.width, height: src.height, fps: src.fps ?? fps, durationSec: src.durationSec, startSec: src.startSec };
  const analyzer = new FrameAnalyzer(engine, { fps, detectEvery: a.detectEvery, zones: a.zones });
  const exporters = exportersFor(a, name);
  let mp4: Mp4Writer | undefined;
  let atlas: GlyphAtlas | undefined;
  if (a.formats.has('mp4')) {
    const path = join(a.out, `${name}.mp4`);
    mp4 = await Mp4Writer.open(resolve(input) === path ? join(a.out, `${name}.annotated.mp4`) : path, src.width, src.height, fps);
    atlas = await atlasFor(src.height);
  }
  const total = src.durationSec !== undefined ? Math.max(1, Math.round(src.durationSec * fps)) : undefined;
  const progress = new Progress(name, total, !a.quiet && process.stderr.isTTY === true);
  let last: FrameRecord | undefined;
  try {
    // Decode of the next frames overlaps the worker's analysis of this one; records still come in order.
    for await (const { frame: f, record: rec } of analyzeSource(src, analyzer, engine.detectorInputSize, { signal })) {
      for (const e of exporters) e.frame(rec, info);
      if (mp4 && atlas) await mp4.writeAnnotated(f.image, rec, atlas, a.zones);
      progress.tick();
      last = rec;
    }
  } finally {
    for (const e of exporters) await e.end();
    await mp4?.close();
    progress.done();
    // Nothing analysed (the input failed before its first frame, or has none): no header-only files left behind.
    if (!last) removeOutputs(exporters, [mp4?.path]);
  }
  if (!last) throw new InputError('E_INPUT_INVALID', 'no video frame could be decoded; no outputs written');
  if (!a.quiet) {
    const s = analyzer.stats;
    const per = (ms: number): string => (s.frames ? (ms / s.frames).toFixed(1) : '0');
    process.stderr.write(
      `${name}: ${s.frames} frames (${s.detections} detected, ${s.classified} face classifications) to ${last ? last.time.toFixed(1) : 0} s; ` +
        `ms/frame detect ${per(s.ms.detect)} track ${per(s.ms.track)} classify ${per(s.ms.classify)} groups ${per(s.ms.group)} → ${a.out}\n`,
    );
  }
}

/**
 * Still images: each is one frame of its own, with its own group aggregates and its own face ids (numbered
 * across the list, so no face is a "track" spanning two photos); one set of outputs for the whole list. ASS
 * and MP4 need a timeline and are not written for images (said on stderr when asked for).
 */
async function analyzeImages(a: Args, engine: Engine, images: string[]): Promise<number> {
  const name = images.length === 1 ? nameOf(images[0]) : 'images';
  const exporters = exportersFor(a, name, false);
  for (const f of ['ass', 'mp4'] as const) if (a.formats.has(f)) process.stderr.write(`facecast: ${name}: ${f} is not written for still images (it needs a video timeline); use csv, jsonl or summary\n`);
  const summary = exporters.find((e): e is SummaryExporter => e instanceof SummaryExporter);
  summary?.setTitle(images.length === 1 ? name : `${images.length} images`);
  let failed = 0;
  let nextId = 1;
  let analysed = 0;
  let faceCount = 0;
  const progress = new Progress(name, images.length, !a.quiet && process.stderr.isTTY === true);
  try {
    for (const [i, path] of images.entries()) {
      try {
        const img = await loadImage(path);
        const r = await engine.analyzeImage(img, { wholeIfNone: true });
        const info: SourceInfo = { input: path, name: nameOf(path), width: img.width, height: img.height, fps: 0 };
        const rec: FrameRecord = {
          frame: i,
          time: 0,
          width: img.width,
          height: img.height,
          detected: r.path === 'detected',
          groups: [],
          faces: r.faces.map((f) => {
            const at = f.attributes;
            const value = { emotion: at.emotion, age: at.age?.years, gender: at.gender && { label: at.gender.label, male: at.gender.male }, race: at.race && { label: at.race.label, probs: at.race.probs } };
            return { trackId: nextId++, box: f.detection?.box ?? { x: 0, y: 0, w: img.width, h: img.height }, score: f.detection?.score ?? 0, status: at.status, raw: value, smoothed: value };
          }),
        };
        // A fresh aggregator per photo: its groups are that photo's people only.
        const groups = new GroupAggregator({ zones: a.zones });
        const faces = rec.faces.map((f) => ({ trackId: f.trackId, box: f.box, emotionProbs: f.raw?.emotion?.probs, age: f.raw?.age, gender: f.raw?.gender }));
        rec.groups = groups.update({ ts: 0, frameWidth: img.width, frameHeight: img.height, faces }).map(toGroupRecord);
        for (const e of exporters) e.frame(rec, info);
        analysed++;
        faceCount += rec.faces.length;
      } catch (e) {
        failed++;
        process.stderr.write(errorLine(fromSystemError(e), path));
      }
      progress.tick();
    }
  } finally {
    for (const e of exporters) await e.end();
    progress.done();
    if (analysed === 0) removeOutputs(exporters);
  }
  if (!a.quiet) process.stderr.write(`${name}: ${analysed} of ${images.length} images analysed, ${faceCount} faces${analysed ? ` → ${a.out}` : '; no outputs written'}\n`);
  return failed;
}
