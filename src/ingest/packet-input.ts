/**
 * Where VideoSource's packets come from: libavformat (every file, URL and camera FFmpeg reads) or facecast's own
 * RTSP client (ingest/rtsp: H.264/H.265 cameras over TCP, access units ended on the RTP marker bit, one frame
 * period earlier than FFmpeg's demuxer hands them out). Both fill the same AVPacket for the same decoder.
 */
import type { AVCodecID } from 'node-av/constants';
import type { FormatContext, IRational, Packet } from 'node-av/lib';

/** What VideoSource needs to know of the one video stream it reads. */
export interface InputInfo {
  codecId: AVCodecID;
  /** Coded picture size after cropping, as the container or the SPS states it. */
  width: number;
  height: number;
  /** Pixel aspect ratio (1: square or unknown). */
  sar: number;
  fps: number | undefined;
  /** Of the packets' pts. */
  timeBase: IRational;
  /** The stream's first pts, AV_NOPTS_VALUE when unknown (live: the first packet's). */
  startPts: bigint;
  durationSec: number | undefined;
  frameCount: number | undefined;
  /** H.264/H.265: avcC/hvcC (MP4) or Annex-B parameter sets (RTSP); null when none. */
  extradata: Buffer | null;
}

export interface PacketInput {
  /** Which client reads it: libavformat, or facecast's own RTSP client. */
  readonly client: 'ffmpeg' | 'native';
  readonly info: InputInfo;
  /** The stream index packets of the video stream carry (others are skipped). */
  readonly streamIndex: number;
  /** Reads the next packet into `pkt`: 0, or a negative AVERROR (EOF, EAGAIN, errno). */
  read(pkt: Packet): Promise<number>;
  /** Files only: the same, synchronously. */
  readSync(pkt: Packet): number;
  /** Makes a blocking read return now (close, abort). */
  interrupt(): void;
  /** Words for the last failure beyond the error code, when the input has them (the RTSP server's status). */
  readonly detail: string | undefined;
  close(): Promise<void>;
}

/** libavformat as a PacketInput. */
export class FormatInput implements PacketInput {
  readonly client = 'ffmpeg';
  readonly detail = undefined;
  constructor(
    private readonly fc: FormatContext,
    readonly streamIndex: number,
    readonly info: InputInfo,
  ) {}

  read(pkt: Packet): Promise<number> {
    return this.fc.readFrame(pkt);
  }

  readSync(pkt: Packet): number {
    return this.fc.readFrameSync(pkt);
  }

  interrupt(): void {
    this.fc.interrupt();
  }

  close(): Promise<void> {
    return this.fc.closeInput();
  }
}
