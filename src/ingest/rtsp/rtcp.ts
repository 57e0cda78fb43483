/**
 * RTCP receiver reports (RFC 3550 §6.4.2) for the RTSP client: a few cameras end a session whose receiver never
 * reports, and FFmpeg sends them, so we do as well. Statistics follow RFC 3550 appendix A.3 (extended highest
 * sequence number, cumulative and fractional loss); jitter is reported as 0 (we do not use it to pace anything).
 */
import { randomBytes } from 'node:crypto';

export class ReceiverReports {
  private readonly ssrcOut = randomBytes(4).readUInt32BE(0);
  private ssrc = -1;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** Middle 32 bits of the last sender report's NTP time, and when it came (for DLSR). */
  private lsr = 0;
  private lsrAt = 0;

  onRtp(p: Uint8Array): void {
    const seq = (p[2] << 8) | p[3];
    const ssrc = ((p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11]) >>> 0;
    if (ssrc !== this.ssrc) { // first packet, or the camera restarted its stream
      this.ssrc = ssrc;
      this.baseSeq = this.maxSeq = seq;
      this.cycles = this.received = this.expectedPrior = this.receivedPrior = 0;
    } else {
      const delta = (seq - this.maxSeq) & 0xffff;
      if (delta > 0 && delta < 0x8000) {
        if (seq < this.maxSeq) this.cycles += 0x10000;
        this.maxSeq = seq;
      }
    }
    this.received++;
  }

  /** A compound RTCP packet from the server: takes the sender report's time for LSR. */
  onRtcp(p: Uint8Array): void {
    for (let off = 0; off + 4 <= p.length;) {
      const len = 4 * ((((p[off + 2] << 8) | p[off + 3]) >>> 0) + 1);
      if (p[off + 1] === 200 && off + 20 <= p.length) {
        this.lsr = ((p[off + 10] << 24) | (p[off + 11] << 16) | (p[off + 12] << 8) | p[off + 13]) >>> 0;
        this.lsrAt = performance.now();
      }
      off += len;
    }
  }

  /** A receiver report (one report block), or null before any RTP. */
  report(): Buffer | null {
    if (this.ssrc < 0) return null;
    const extMax = this.cycles + this.maxSeq;
    const expected = extMax - this.baseSeq + 1;
    const lost = Math.max(0, Math.min(0x7fffff, expected - this.received));
    const expInterval = expected - this.expectedPrior;
    const lostInterval = expInterval - (this.received - this.receivedPrior);
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const fraction = expInterval > 0 && lostInterval > 0 ? Math.min(255, Math.floor((lostInterval * 256) / expInterval)) : 0;
    const b = Buffer.alloc(32);
    b[0] = 0x81; // V=2, one report block
    b[1] = 201; // RR
    b.writeUInt16BE(7, 2); // length in 32-bit words minus one
    b.writeUInt32BE(this.ssrcOut, 4);
    b.writeUInt32BE(this.ssrc, 8);
    b.writeUInt32BE(((fraction << 24) | lost) >>> 0, 12);
    b.writeUInt32BE(extMax >>> 0, 16);
    b.writeUInt32BE(0, 20); // jitter
    b.writeUInt32BE(this.lsr, 24);
    b.writeUInt32BE(this.lsr ? Math.round(((performance.now() - this.lsrAt) / 1000) * 65536) >>> 0 : 0, 28);
    return b;
  }
}
