/**
 * One RTSP control connection over TCP (RFC 2326 §10 / RFC 7826): requests and their responses, matched by CSeq,
 * and the RTP/RTCP packets the server interleaves on the same socket (`$`, channel, 16-bit length, packet).
 *
 * The reader never copies a packet: interleaved packets are handed over as views of the socket's chunks (a
 * packet split across two chunks is the one case that concatenates). Requests from the server (some cameras
 * send GET_PARAMETER or OPTIONS as keep-alives of their own) are answered, anything else gets 501.
 */
import { connect, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';

export interface RtspResponse {
  status: number;
  reason: string;
  /** Header names lower-cased; a header sent several times (WWW-Authenticate) keeps every value. */
  headers: Map<string, string[]>;
  body: Buffer;
}

/** Why the connection ended: a negative AVERROR (errno) for VideoSource's messages, and our own words. */
export interface ConnectionEnd { code: number; message: string }

const MAX_HEADER_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;
const USER_AGENT = 'facecast';

/** -errno for a Node socket error code, as FFmpeg reports it (AVERROR(ECONNREFUSED) …). */
export function avErrno(code: string | undefined, fallback = 'EIO'): number {
  const errno = osConstants.errno as Record<string, number | undefined>;
  return -(errno[code ?? fallback] ?? errno[fallback] ?? 5);
}

export class RtspConnection {
  /** Interleaved packets: channel and a view of the packet (valid as long as the caller keeps it). */
  onInterleaved: (channel: number, packet: Buffer) => void = () => undefined;
  /** Once, when the socket ends for any reason other than close(). */
  onEnd: (end: ConnectionEnd) => void = () => undefined;

  private rest: Buffer | null = null;
  private cseq = 0;
  private readonly waiting = new Map<number, { resolve: (r: RtspResponse) => void; reject: (e: ConnectionEnd) => void; timer: NodeJS.Timeout }>();
  private ended: ConnectionEnd | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => this.end({ code: avErrno(e.code), message: e.message }));
    socket.on('close', () => this.end({ code: avErrno('ECONNRESET'), message: 'the RTSP server closed the connection' }));
  }

  static connect(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<RtspConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const fail = (end: ConnectionEnd): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(end);
      };
      const onAbort = (): void => fail({ code: avErrno('EINTR'), message: 'aborted' });
      const timer = setTimeout(() => fail({ code: avErrno('ETIMEDOUT'), message: `no connection within ${timeoutMs} ms` }), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (e: NodeJS.ErrnoException) => fail({ code: avErrno(e.code), message: e.message }));
      socket.once('connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(new RtspConnection(socket));
      });
    });
  }

  get closed(): boolean {
    return this.ended !== null;
  }

  /** Sends a request; resolves with its response (any status), rejects with a ConnectionEnd. */
  request(method: string, url: string, headers: Record<string, string>, timeoutMs: number): Promise<RtspResponse> {
    if (this.ended) return Promise.reject(this.ended);
    const cseq = ++this.cseq;
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${cseq}`, `User-Agent: ${USER_AGENT}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cseq);
        reject({ code: avErrno('ETIMEDOUT'), message: `no answer to ${method} within ${timeoutMs} ms` });
      }, timeoutMs);
      this.waiting.set(cseq, { resolve, reject, timer });
    });
  }

  /** An interleaved packet to the server (RTCP receiver reports). */
  sendInterleaved(channel: number, packet: Buffer): void {
    if (this.ended || packet.length > 0xffff) return;
    const head = Buffer.from([0x24, channel, packet.length >> 8, packet.length & 0xff]);
    this.socket.write(Buffer.concat([head, packet]));
  }

  /** Flow control: a consumer behind stops reading the socket, and TCP makes the server wait. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Writes what is pending (a TEARDOWN) and closes; idempotent. */
  close(): void {
    if (this.ended) return;
    this.ended = { code: avErrno('EINTR'), message: 'closed' };
    this.rejectAll(this.ended);
    this.socket.end();
    // A server that does not close its side would hold the socket: give the TEARDOWN a moment, then cut.
    setTimeout(() => this.socket.destroy(), 200).unref();
  }

  private end(e: ConnectionEnd): void {
    if (this.ended) return;
    this.ended = e;
    this.rejectAll(e);
    this.socket.destroy();
    this.onEnd(e);
  }

  private rejectAll(e: ConnectionEnd): void {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiting.clear();
  }

  private onData(chunk: Buffer): void {
    let buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let off = 0;
    while (off < buf.length && !this.ended) {
      if (buf[off] === 0x24) {
        if (buf.length - off < 4) break;
        const len = buf.readUInt16BE(off + 2);
        if (buf.length - off < 4 + len) break;
        this.onInterleaved(buf[off + 1], buf.subarray(off + 4, off + 4 + len));
        off += 4 + len;
        continue;
      }
      const used = this.message(buf, off);
      if (used < 0) return this.end({ code: avErrno('EPROTO'), message: 'the RTSP server sent a malformed message' });
      if (used === 0) break;
      off += used;
    }
    if (off < buf.length && !this.ended) {
      buf = buf.subarray(off);
      if (buf.length > MAX_HEADER_BYTES + MAX_BODY_BYTES + 4) return this.end({ code: avErrno('EPROTO'), message: 'the RTSP server sent an oversized message' });
      this.rest = Buffer.from(buf); // detach the tail from the chunk, so the chunk can be freed
    }
  }

  /** Parses a text message at `off`: bytes used, 0 when incomplete, -1 when malformed. Skips stray bytes. */
  private message(buf: Buffer, off: number): number {
    const c = buf[off];
    if (c === 0x0d || c === 0x0a) return 1; // blank line between messages
    if (!(c >= 0x41 && c <= 0x5a)) { // not a letter: garbage between interleaved packets; resynchronise at the next '$'
      const next = buf.indexOf(0x24, off + 1);
      return next < 0 ? buf.length - off : next - off;
    }
    const headEnd = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (headEnd < 0) return buf.length - off > MAX_HEADER_BYTES ? -1 : 0;
    const lines = buf.toString('latin1', off, headEnd).split('\r\n');
    const headers = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const k = line.slice(0, i).trim().toLowerCase();
      const list = headers.get(k) ?? [];
      list.push(line.slice(i + 1).trim());
      headers.set(k, list);
    }
    const length = Number(headers.get('content-length')?.[0] ?? 0);
    if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) return -1;
    const bodyStart = headEnd + 4;
    if (buf.length < bodyStart + length) return 0;
    const body = Buffer.from(buf.subarray(bodyStart, bodyStart + length));
    const cseq = Number(headers.get('cseq')?.[0]);
    const first = lines[0];
    const status = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(first);
    if (status) {
      const w = this.waiting.get(cseq);
      if (w) {
        this.waiting.delete(cseq);
        clearTimeout(w.timer);
        w.resolve({ status: Number(status[1]), reason: status[2], headers, body });
      }
    } else {
      const method = first.split(' ')[0];
      const ok = method === 'OPTIONS' || method === 'GET_PARAMETER' || method === 'SET_PARAMETER';
      this.socket.write(`RTSP/1.0 ${ok ? '200 OK' : '501 Not Implemented'}\r\nCSeq: ${Number.isFinite(cseq) ? cseq : 0}\r\n\r\n`);
    }
    return bodyStart + length - off;
  }
}
