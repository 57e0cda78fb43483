/**
 * Offline analysis with decode, inference and output overlapping: while the engine (a worker thread) analyses
 * frame N, the main thread decodes and converts frame N+1 and the caller writes the outputs of frame N−1.
 * Records still come out in frame order and FrameAnalyzer still sees one frame at a time, in order (its
 * tracker needs that): only the waiting overlaps.
 *
 * VideoSource reuses its buffers at each step, so every frame is first copied into one of `depth + 2` slots.
 * The slots are SharedArrayBuffers: the WorkerEngine sends them to the worker in place, so this copy replaces
 * the one the engine would otherwise make (no extra memcpy in total).
 */
import type { RgbImage } from '../core/types.js';
import type { FrameRecord } from '../core/records.js';
import type { VideoFrame } from '../ingest/video.js';
import type { FrameAnalyzer } from './analyzer.js';

export interface PipelinedOptions {
  /** Frames decoded ahead of the one whose record is being consumed (default 2). */
  depth?: number;
  signal?: AbortSignal;
}

export interface AnalysedFrame {
  /** The frame, in a slot that stays valid until the next iteration step. */
  frame: VideoFrame;
  record: FrameRecord;
}

interface Slot {
  image: Uint8Array;
  letterbox: Uint8Array | undefined;
}

function copyInto(buf: Uint8Array | undefined, src: RgbImage): { buf: Uint8Array; img: RgbImage } {
  const b = buf && buf.byteLength === src.data.byteLength ? buf : new Uint8Array(new SharedArrayBuffer(src.data.byteLength));
  b.set(src.data);
  return { buf: b, img: { data: b, width: src.width, height: src.height, stride: src.stride } };
}

/**
 * Yields each frame's record in order, keeping up to `depth` frames in analysis or decoded ahead. If analysis
 * fails, the error is thrown at that frame's turn; on return or throw, the analyses in flight are awaited first,
 * so nothing still reads the slots after this generator ends.
 */
export async function* analyzePipelined(frames: AsyncIterable<VideoFrame>, analyzer: FrameAnalyzer, opts: PipelinedOptions = {}): AsyncGenerator<AnalysedFrame, void, undefined> {
  const depth = Math.max(1, opts.depth ?? 2);
  const free: Slot[] = [];
  const inFlight: { frame: VideoFrame; slot: Slot; record: Promise<FrameRecord> }[] = [];
  // FrameAnalyzer.process() calls are chained: frame N+1 starts when N is done.
  let chain: Promise<unknown> = Promise.resolve();
  try {
    for await (const f of frames) {
      const slot = free.pop() ?? { image: new Uint8Array(0), letterbox: undefined };
      const image = copyInto(slot.image, f.image);
      slot.image = image.buf;
      const frame: VideoFrame = { index: f.index, ptsSec: f.ptsSec, image: image.img };
      if (f.letterbox) {
        const lb = copyInto(slot.letterbox, f.letterbox);
        slot.letterbox = lb.buf;
        frame.letterbox = lb.img;
      }
      const record = chain.then(() => analyzer.process(frame.index, frame.ptsSec, frame.image, opts.signal, frame.letterbox));
      record.catch(() => undefined); // observed at its turn below; this only keeps it from being "unhandled"
      chain = record;
      inFlight.push({ frame, slot, record });
      if (inFlight.length > depth) {
        const next = inFlight.shift()!;
        yield { frame: next.frame, record: await next.record };
        free.push(next.slot);
      }
    }
    while (inFlight.length > 0) {
      const next = inFlight.shift()!;
      yield { frame: next.frame, record: await next.record };
    }
  } finally {
    await Promise.allSettled(inFlight.map((x) => x.record));
  }
}
