/**
 * A lightweight WHEP viewer in Node (werift, recvonly): counts the frames it receives (RTP marker bits) and
 * their RTP timestamps, without decoding, so that many viewers cost the machine little. ICE: host candidate
 * 127.0.0.1 only, and werift's fallback STUN server (stun.l.google.com) is removed before gathering, as
 * src/broadcast/webrtc/whep.ts does on the server side: nothing leaves the machine.
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { spsProfile } from '../live-lib.js';

const h264 = (profileLevelId: string): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${profileLevelId}`,
  });

export interface ReceiverMark { t: number; frames: number; bytes: number; ts: number; tsUnwrapped: number }

export class WhepReceiver {
  frames = 0;
  packets = 0;
  bytes = 0;
  /** profile_idc of the first SPS received (66 baseline, 77 main, 100 high). */
  profile: number | undefined;
  firstFrameAt: number | undefined;
  #lastTs: number | undefined;
  #tsUnwrapped = 0;
  readonly pc: RTCPeerConnection;
  #location: string | undefined;

  private constructor(pc: RTCPeerConnection) {
    this.pc = pc;
  }

  /** POSTs an offer to `url` (http://…/whep/<stream>[?…]); resolves once the answer is applied. */
  static async open(url: string): Promise<WhepReceiver> {
    const pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv4: false,
      iceUseIpv6: false,
      codecs: { video: [h264('42e01f'), h264('64001f')] },
      headerExtensions: { video: [] },
    });
    const r = new WhepReceiver(pc);
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    for (const t of pc.iceTransports) t.connection.stunServer = undefined;
    tr.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => r.#onRtp(rtp.header.marker, rtp.header.timestamp, rtp.payload));
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      for (const t of pc.iceTransports) t.connection.stunServer = undefined;
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription?.sdp ?? '' });
      const body = await res.text();
      if (res.status !== 201) throw new Error(`WHEP ${url}: ${res.status} ${body.slice(0, 300)}`);
      const loc = res.headers.get('Location');
      r.#location = loc ? new URL(loc, url).toString() : undefined;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
    } catch (e) {
      await pc.close().catch(() => {});
      throw e;
    }
    return r;
  }

  #onRtp(marker: boolean, ts: number, payload: Buffer): void {
    this.packets++;
    this.bytes += payload.length;
    if (this.profile === undefined) this.profile = spsProfile(payload);
    if (!marker) return;
    this.frames++;
    this.firstFrameAt ??= performance.now();
    if (this.#lastTs !== undefined) {
      const d = (ts - this.#lastTs + 2 ** 32) % 2 ** 32;
      this.#tsUnwrapped += d >= 2 ** 31 ? d - 2 ** 32 : d; // signed: a timestamp slightly behind the last one
    }
    this.#lastTs = ts;
  }

  mark(): ReceiverMark {
    return { t: performance.now(), frames: this.frames, bytes: this.bytes, ts: this.#lastTs ?? 0, tsUnwrapped: this.#tsUnwrapped };
  }

  async close(): Promise<void> {
    if (this.#location) await fetch(this.#location, { method: 'DELETE' }).catch(() => {});
    await this.pc.close().catch(() => {});
  }
}

/** Frames per second and drop fraction between two marks (expected frames from the RTP clock at `fps`). */
export function delivery(a: ReceiverMark, b: ReceiverMark, fps: number): { fps: number; frames: number; expected: number; dropPct: number; kbps: number } {
  const frames = b.frames - a.frames;
  const sec = (b.t - a.t) / 1000;
  const expected = Math.round((b.tsUnwrapped - a.tsUnwrapped) / (90000 / fps));
  const dropPct = expected > 0 ? Math.max(0, (1 - frames / expected) * 100) : 100;
  return { fps: frames / sec, frames, expected, dropPct, kbps: ((b.bytes - a.bytes) * 8) / sec / 1000 };
}
