/**
 * Helpers for the live-server bench (bench/live.ts): the wall-clock barcode stamped into source frames, CPU time
 * of processes from /proc, a registry of child processes that are all killed on exit, free loopback ports,
 * RTP/H.264 inspection for the Node WHEP receiver, and summary statistics.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';

// ---------------------------------------------------------------------------------------------------------
// Barcode: 44 blocks along the bottom of a 1280×720 frame, below the photo (faces, their labels and the group
// panel, which annotate.ts draws at the top left, stay above y = 640). Bits, left to right:
//   1 0 | 32 bits: Date.now() mod 2^32, MSB first | 8 bits: XOR of those 4 bytes | 0 1
// A block is 28×40 px of pure black or white: it survives x264 at any sane bitrate and a rescale.
// ---------------------------------------------------------------------------------------------------------

export const CODE = { width: 1280, height: 720, x0: 24, y0: 668, blockW: 28, blockH: 40, bits: 44, photoH: 640 } as const;

export function barcodeBits(stampMs: number): number[] {
  const v = stampMs % 2 ** 32;
  const bytes = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const check = bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3];
  const bits = [1, 0];
  for (const b of bytes) for (let k = 7; k >= 0; k--) bits.push((b >> k) & 1);
  for (let k = 7; k >= 0; k--) bits.push((check >> k) & 1);
  bits.push(0, 1);
  return bits;
}

/** Draws the stamp into a packed RGB24 frame of CODE.width × CODE.height (grey strip, black/white blocks). */
export function drawBarcode(rgb: Uint8Array, stampMs: number): void {
  const W = CODE.width;
  const bits = barcodeBits(stampMs);
  for (let y = CODE.y0; y < CODE.y0 + CODE.blockH; y++) {
    for (let i = 0; i < bits.length; i++) {
      const v = bits[i] ? 255 : 0;
      const x0 = CODE.x0 + i * CODE.blockW;
      rgb.fill(v, (y * W + x0) * 3, (y * W + x0 + CODE.blockW) * 3);
    }
  }
}

/**
 * The inverse, as JavaScript source for the page (it runs in Chromium): `decodeStamp(lumaAt, nowMs)` reads the
 * 44 blocks (lumaAt(x, y) in CODE coordinates), checks the framing and the checksum, and returns the full
 * epoch-ms stamp (the 32-bit value unwrapped against nowMs), or -1.
 */
export const DECODE_JS = `
const CODE = ${JSON.stringify(CODE)};
function decodeStamp(lumaAt, nowMs) {
  const bits = [];
  for (let i = 0; i < CODE.bits; i++) {
    const cx = CODE.x0 + i * CODE.blockW + CODE.blockW / 2, cy = CODE.y0 + CODE.blockH / 2;
    let s = 0, n = 0;
    for (let dy = -10; dy <= 10; dy += 5) for (let dx = -6; dx <= 6; dx += 3) { s += lumaAt(cx + dx, cy + dy); n++; }
    bits.push(s / n > 128 ? 1 : 0);
  }
  if (bits[0] !== 1 || bits[1] !== 0 || bits[42] !== 0 || bits[43] !== 1) return -1;
  const byte = (o) => { let b = 0; for (let k = 0; k < 8; k++) b = (b << 1) | bits[o + k]; return b; };
  const b = [byte(2), byte(10), byte(18), byte(26)];
  if ((b[0] ^ b[1] ^ b[2] ^ b[3]) !== byte(34)) return -1;
  const v = ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
  const M = 2 ** 32;
  return nowMs - (((nowMs % M) - v + M) % M);
}
`;

// ---------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------

export interface Dist { n: number; mean: number; p50: number; p95: number; min: number; max: number }

export function dist(samples: readonly number[]): Dist | null {
  if (samples.length === 0) return null;
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { n: s.length, mean: r(s.reduce((a, b) => a + b, 0) / s.length), p50: r(q(0.5)), p95: r(q(0.95)), min: r(s[0]), max: r(s[s.length - 1]) };
}

export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------------------------------------------------
// CPU time from /proc (USER_HZ = 100)
// ---------------------------------------------------------------------------------------------------------

function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on: index = field - 3
  } catch {
    return null;
  }
}

/** Live descendants of pid (scans /proc once). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f) parent.set(Number(d), Number(f[1]));
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parent) if (pp === p) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system, all threads) of pid and its live descendants, plus its reaped children's. */
export function cpuSeconds(pid: number, withChildren = true): number {
  let ticks = 0;
  for (const p of [pid, ...(withChildren ? descendants(pid) : [])]) {
    const f = statFields(p);
    if (!f) continue;
    ticks += Number(f[11]) + Number(f[12]); // utime, stime
    if (p === pid) ticks += Number(f[13]) + Number(f[14]); // cutime, cstime (waited-for children)
  }
  return ticks / 100;
}

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat. */
export function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0)) / 100;
}

/** CPU seconds of the live descendants of root whose command name matches `comm` (e.g. Chromium's processes). */
export function cpuSecondsByName(root: number, comm: RegExp): number {
  let ticks = 0;
  for (const p of descendants(root)) {
    let name = '';
    try {
      name = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (!comm.test(name)) continue;
    const f = statFields(p);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

/** A CPU meter over a window: cores' worth of CPU (CPU s per wall s) used by each reader's processes. */
export class CpuWindow {
  readonly #readers: Map<string, () => number>;
  #t0 = 0;
  #start = new Map<string, number>();
  #machine0 = 0;
  #tree0 = 0;

  /** Each reader returns cumulative CPU seconds (0 when its process is gone). */
  constructor(readers: Record<string, () => number>) {
    this.#readers = new Map(Object.entries(readers));
  }

  start(): void {
    this.#t0 = performance.now();
    this.#machine0 = machineBusySeconds();
    this.#tree0 = cpuSeconds(process.pid, true);
    for (const [k, read] of this.#readers) this.#start.set(k, read());
  }

  /** `foreign`: cores used by processes that are not this bench or its children (other work on the machine). */
  stop(): { cores: Record<string, number>; machine: number; foreign: number; wallSec: number } {
    const wall = (performance.now() - this.#t0) / 1000;
    const cores: Record<string, number> = {};
    for (const [k, read] of this.#readers) cores[k] = round((read() - (this.#start.get(k) ?? 0)) / wall, 3);
    const machine = (machineBusySeconds() - this.#machine0) / wall;
    const foreign = Math.max(0, machine - (cpuSeconds(process.pid, true) - this.#tree0) / wall);
    return { cores, machine: round(machine, 3), foreign: round(foreign, 3), wallSec: round(wall, 2) };
  }
}

let quietWaitedMs = 0;
/**
 * Waits (at most maxWaitMs, and 4 minutes over the whole run) until processes other than this bench and its
 * children use less than maxForeign cores over 1 s: on 2 cores one busy neighbour distorts every figure.
 * Returns the last foreign load seen.
 */
export async function waitQuiet(maxForeign = 0.25, maxWaitMs = 30_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const m0 = machineBusySeconds();
    const c0 = cpuSeconds(process.pid, true);
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const wall = (performance.now() - w0) / 1000;
    const load = Math.max(0, (machineBusySeconds() - m0 - (cpuSeconds(process.pid, true) - c0)) / wall);
    const waited = performance.now() - t0;
    if (load < maxForeign || waited > maxWaitMs || quietWaitedMs + waited > 240_000) {
      quietWaitedMs += waited;
      return load;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Children: every process started here is registered and killed on exit, on errors and on signals.
// ---------------------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  const c = spawn(cmd, args, opts);
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(c: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

export function killAllChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

process.once('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAllChildren();
    process.exit(130);
  });
}

export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// H.264 over RTP: the profile of the first SPS seen (66 baseline, 77 main, 100 high), to tell a forwarded camera
// stream from the server's own (baseline) re-encode.
// ---------------------------------------------------------------------------------------------------------

export function spsProfile(payload: Buffer): number | undefined {
  if (payload.length < 2) return undefined;
  const type = payload[0] & 0x1f;
  if (type === 7) return payload[1];
  if (type === 24) {
    // STAP-A: 16-bit sizes, then NAL units
    for (let o = 1; o + 2 < payload.length; ) {
      const size = payload.readUInt16BE(o);
      const nal = payload.subarray(o + 2, o + 2 + size);
      if (nal.length > 1 && (nal[0] & 0x1f) === 7) return nal[1];
      o += 2 + size;
    }
  }
  if (type === 28 && payload.length > 2 && payload[1] & 0x80 && (payload[1] & 0x1f) === 7) return payload[2];
  return undefined;
}
