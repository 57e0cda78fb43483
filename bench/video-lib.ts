/** Decode-only helpers shared by the decode and analyze benches: the ceilings analysis is compared with. */
import { spawnSync } from 'node:child_process';
import { Scaler } from 'node-av/api';
import { Codec, CodecContext, Dictionary, FFmpegError, FormatContext, Frame, Packet } from 'node-av/lib';

export interface Pass { decoded: number; delivered: number }

/** node-av's lib layer, the calls VideoSource makes, with no conversion (or with Scaler.toBufferSync). */
export async function rawDecode(path: string, threads: number, opt: { skipNonKey?: boolean; scaler?: boolean }): Promise<Pass> {
  const fc = new FormatContext();
  FFmpegError.throwIfError(await fc.openInput(path, null, null), 'open');
  FFmpegError.throwIfError(await fc.findStreamInfo(null), 'stream info');
  const st = fc.streams.find((s) => s.codecpar.width > 0);
  const codec = st && Codec.findDecoder(st.codecpar.codecId);
  if (!st || !codec) throw new Error(`${path}: no video`);
  const cc = new CodecContext();
  cc.allocContext3(codec);
  cc.parametersToContext(st.codecpar);
  cc.pktTimebase = st.timeBase;
  cc.threadCount = threads;
  const dict = opt.skipNonKey ? Dictionary.fromObject({ skip_frame: 'nokey' }) : null;
  FFmpegError.throwIfError(await cc.open2(codec, dict), 'open decoder');
  dict?.free();
  using scaler = new Scaler();
  const pkt = new Packet(), fr = new Frame();
  pkt.alloc();
  fr.alloc();
  let decoded = 0;
  const drain = (): void => {
    while (cc.receiveFrameSync(fr) >= 0) {
      decoded++;
      if (opt.scaler) scaler.toBufferSync(fr, { format: 'rgb' });
      fr.unref();
    }
  };
  while (fc.readFrameSync(pkt) >= 0) {
    if (pkt.streamIndex === st.index) cc.sendPacketSync(pkt);
    pkt.unref();
    drain();
  }
  cc.sendPacketSync(null);
  drain();
  pkt.free();
  fr.free();
  cc.freeContext();
  await fc.closeInput();
  return { decoded, delivered: opt.scaler ? decoded : 0 };
}

/** `ffmpeg -benchmark` decode of the whole file to the null muxer: frames / real time. */
export function ffmpegCli(path: string, threads: number | 'auto', runs = 3): { fps: number; rtimeSec: number; version: string } | null {
  const which = spawnSync('which', ['ffmpeg'], { encoding: 'utf8' });
  if (which.status !== 0) return null;
  const best: number[] = [];
  let frames = 0;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-benchmark', ...(threads === 'auto' ? [] : ['-threads', String(threads)]), '-i', path, '-f', 'null', '-'], { encoding: 'utf8' });
    const rt = /bench: utime=[\d.]+s stime=[\d.]+s rtime=([\d.]+)s/.exec(r.stderr);
    const fr = [...r.stderr.matchAll(/frame=\s*(\d+)/g)].pop();
    if (!rt || !fr) return null;
    best.push(Number(rt[1]));
    frames = Number(fr[1]);
  }
  const rtimeSec = Math.min(...best);
  const version = /ffmpeg version (\S+)/.exec(spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
  return { fps: Math.round(frames / rtimeSec), rtimeSec, version };
}
