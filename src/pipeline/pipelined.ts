/**
 * Offline analysis with decode, inference and output overlapping: while the engine (worker threads) analyses
 * frame N, the main thread decodes and converts the next frames and the caller writes the outputs of frame N−1.
 * Records still come out in frame order and FrameAnalyzer still sees one frame at a time, in order (its
 * tracker needs that): only the waiting overlaps. Each frame is also handed to FrameAnalyzer.prefetch() as it
 * is decoded, which starts the detection of the next detection frame while this one's faces are classified:
 * with SplitEngine (detector and classifiers on two threads) that is what puts analysis on both cores. So the
 * default depth reaches one detection period ahead.
 *
 * A VideoSource given a ring of at least depth + 2 shared buffers (useRing; analyzeSource sets that up) decodes
 * each frame where the pipeline keeps it: no copy at all, and the WorkerEngine reads the frame in place. Any
 * other source reuses its buffers at each step, so its frames are first copied into `depth + 2` slots, in
 * SharedArrayBuffer memory too (~0.8 ms a 720p frame on the main thread).
 */
import { setImmediate as tick } from 'node:timers/promises';
import type { RgbImage } from '../core/types.js';
import type { FrameRecord } from '../core/records.js';
import type { VideoFrame } from '../ingest/video.js';
import type { FrameAnalyzer } from './analyzer.js';

export interface PipelinedOptions {
  /**
   * Frames decoded ahead of the one whose record is being consumed. Default: the analyzer's detection period
   * + 2 (so the next detection starts while this one is classified), fewer when the frames are so large that
   * the slots would take more than SLOT_BUDGET_BYTES; at least 2.
   */
  depth?: number;
  /**
   * The frames come in a ring of this many SharedArrayBuffer-backed buffers (VideoSource.useRing): when it is at
   * least depth + 2, each frame is used where it lies instead of being copied into a slot.
   */
  sourceRing?: number;
  signal?: AbortSignal;
}

/** The default depth (see PipelinedOptions.depth) for frames of `frameBytes` (RGB plus letterbox). */
export function pipelineDepth(detectEvery: number, frameBytes: number): number {
  return Math.max(2, Math.min(detectEvery + 2, Math.floor(SLOT_BUDGET_BYTES / Math.max(1, frameBytes))));
}

/** What analyzeSource needs of a VideoSource. */
export interface RingSource {
  readonly width: number;
  readonly height: number;
  /** Ring outputs (VideoSource.useRing): frames stay valid that many deliveries. */
  useRing(n: number): void;
  readonly ringLength: number;
  frames(): AsyncIterable<VideoFrame>;
}

/**
 * analyzePipelined over a VideoSource that has not started yet, with no copy of the frames: the source decodes
 * into a ring of shared buffers deep enough for the pipeline (`letterbox`: the detector's input side, if the
 * source letterboxes).
 */
export function analyzeSource(src: RingSource, analyzer: FrameAnalyzer, letterbox: number | undefined, opts: Omit<PipelinedOptions, 'sourceRing'> = {}): AsyncGenerator<AnalysedFrame, void, undefined> {
  const depth = opts.depth ?? pipelineDepth(analyzer.detectEvery, src.width * src.height * 3 + (letterbox ? letterbox * letterbox * 3 : 0));
  src.useRing(depth + 2);
  return analyzePipelined(src.frames(), analyzer, { ...opts, depth, sourceRing: src.ringLength });
}

export interface AnalysedFrame {
  /** The frame, in a slot that stays valid until the next iteration step. */
  frame: VideoFrame;
  record: FrameRecord;
}

/** Memory the default depth may use for decoded-ahead frames (RGB and letterbox): 8 slots of 1080p. */
export const SLOT_BUDGET_BYTES = 8 * 1920 * 1080 * 3;

interface Slot {
  image: Uint8Array;
  letterbox: Uint8Array | undefined;
}

function isShared(img: RgbImage): boolean {
  return img.data.buffer instanceof SharedArrayBuffer;
}

function copyInto(buf: Uint8Array | undefined, src: RgbImage): { buf: Uint8Array; img: RgbImage } {
  const b = buf && buf.byteLength === src.data.byteLength ? buf : new Uint8Array(new SharedArrayBuffer(src.data.byteLength));
  b.set(src.data);
  return { buf: b, img: { data: b, width: src.width, height: src.height, stride: src.stride } };
}

interface Entry {
  frame: VideoFrame;
  /** The copy's slot; none when the frame is used in the source's own ring buffer. */
  slot: Slot | undefined;
  record: Promise<FrameRecord>;
  detection: Promise<unknown> | undefined;
}

/**
 * Yields each frame's record in order. Decoding runs as its own loop, ahead of the records being consumed: up
 * to `depth` frames decoded and in analysis, plus the one last yielded (its slot is the caller's until the next
 * step). The decoder must not wait while a detection frame's faces are classified: that wait is most of the
 * time, and the main thread would sit idle through it.
 *
 * If analysis fails, the error is thrown at that frame's turn. If decoding fails, the frames decoded before are
 * still yielded, then the decoder's error is thrown. On return or throw, the decode loop is stopped and the
 * analyses in flight are awaited, so nothing still reads the slots after this generator ends.
 */
export async function* analyzePipelined(frames: AsyncIterable<VideoFrame>, analyzer: FrameAnalyzer, opts: PipelinedOptions = {}): AsyncGenerator<AnalysedFrame, void, undefined> {
  let depth = opts.depth === undefined ? 0 : Math.max(1, opts.depth);
  const free: Slot[] = [];
  const queue: Entry[] = [];
  /** Slots taken by the decoder and not yet given back by the consumer (queued ones and the one yielded). */
  let inUse = 0;
  let stop = false;
  let ended = false;
  let failure: { error: unknown } | undefined;
  /** Resolvers of the consumer waiting for a frame, and of the decoder waiting for a slot. */
  let wakeConsumer: (() => void) | undefined;
  let wakeDecoder: (() => void) | undefined;
  const signal = (which: 'consumer' | 'decoder'): void => {
    const w = which === 'consumer' ? wakeConsumer : wakeDecoder;
    if (which === 'consumer') wakeConsumer = undefined;
    else wakeDecoder = undefined;
    w?.();
  };
  // FrameAnalyzer.process() calls are chained: frame N+1 starts when N is done.
  let chain: Promise<unknown> = Promise.resolve();

  const decoder = (async (): Promise<void> => {
    try {
      for await (const f of frames) {
        if (stop) break;
        if (depth === 0) depth = pipelineDepth(analyzer.detectEvery, f.image.data.byteLength + (f.letterbox?.data.byteLength ?? 0));
        inUse++;
        let slot: Slot | undefined;
        let frame: VideoFrame;
        if ((opts.sourceRing ?? 0) >= depth + 2 && isShared(f.image) && (!f.letterbox || isShared(f.letterbox))) {
          frame = { index: f.index, ptsSec: f.ptsSec, image: f.image, ...(f.letterbox ? { letterbox: f.letterbox } : {}) };
        } else {
          slot = free.pop() ?? { image: new Uint8Array(0), letterbox: undefined };
          const image = copyInto(slot.image, f.image);
          slot.image = image.buf;
          frame = { index: f.index, ptsSec: f.ptsSec, image: image.img };
          if (f.letterbox) {
            const lb = copyInto(slot.letterbox, f.letterbox);
            slot.letterbox = lb.buf;
            frame.letterbox = lb.img;
          }
        }
        const detection = analyzer.prefetch(frame.index, frame.ptsSec, frame.image, opts.signal, frame.letterbox);
        const record = chain.then(() => analyzer.process(frame.index, frame.ptsSec, frame.image, opts.signal, frame.letterbox));
        record.catch(() => undefined); // observed at its turn below; this only keeps it from being "unhandled"
        chain = record;
        queue.push({ frame, slot, record, detection });
        signal('consumer');
        // Decoding ahead is background work: let the workers' replies in after every frame, or the analysis
        // chain (which waits on them) stalls until the slots run out (VideoSource pauses only every 20 ms).
        await tick();
        // The source's buffers are free again once its next frame is asked for: wait for a slot first.
        while (inUse > depth && !stop) await new Promise<void>((r) => (wakeDecoder = r));
        if (stop) break;
      }
    } catch (e) {
      failure = { error: e };
    } finally {
      ended = true;
      signal('consumer');
    }
  })();

  try {
    for (;;) {
      const next = queue[0];
      if (!next) {
        if (ended) break;
        await new Promise<void>((r) => (wakeConsumer = r));
        continue;
      }
      const record = await next.record;
      queue.shift();
      yield { frame: next.frame, record };
      if (next.slot) free.push(next.slot);
      inUse--;
      signal('decoder');
    }
    if (failure) throw failure.error;
  } finally {
    stop = true;
    signal('decoder');
    await decoder;
    // A frame whose turn never came (an earlier one failed) may still have its detection reading its slot.
    await Promise.allSettled(queue.flatMap((x) => [x.record, ...(x.detection ? [x.detection] : [])]));
  }
}
