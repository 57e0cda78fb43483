/**
 * A real RTSP server for integration tests: GStreamer's RTSP server (test/helpers/rtsp_server.py, run with the
 * system /usr/bin/python3, whose `gi` bindings the Debian packages provide) serving an H.264 MP4 clip in a loop, in
 * real time, at rtsp://127.0.0.1:PORT/live. Loopback only.
 *
 *   await using srv = await RtspTestServer.start(clip);   // a free port
 *   await srv.stop(); await srv.restart();                 // same port again (reconnect tests)
 *
 * Debian packages: gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good
 * gstreamer1.0-plugins-bad gstreamer1.0-rtsp (h264parse is in -bad, qtdemux/rtp/udp in -good).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./rtsp_server.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Why the RTSP test server cannot run here (for `test(..., { skip })`), or undefined when it can. */
export function rtspServerUnavailable(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `${PYTHON}: ${r.error.message}`;
  return r.status === 0 ? undefined : `GStreamer RTSP server bindings missing (${r.stderr.trim().split('\n').pop() ?? ''})`;
}

export class RtspTestServer implements AsyncDisposable {
  #proc: ChildProcess | undefined;
  #port: number;
  readonly #clip: string;
  readonly #auth: string;
  readonly #codec: 'h264' | 'h265';

  private constructor(clip: string, port: number, auth: string, codec: 'h264' | 'h265') {
    this.#clip = clip;
    this.#port = port;
    this.#auth = auth;
    this.#codec = codec;
  }

  /**
   * Starts serving `clip` (an H.264 .mp4) on `port` (0: a free one); resolves once it listens. With `auth`, the
   * server requires those credentials by that method (as cameras do). `codec`: the clip's (default h264).
   */
  static async start(clip: string, port = 0, auth?: { method: 'basic' | 'digest'; user: string; pass: string }, codec: 'h264' | 'h265' = 'h264'): Promise<RtspTestServer> {
    const s = new RtspTestServer(clip, port, auth ? `${auth.method}:${auth.user}:${auth.pass}` : '-', codec);
    await s.restart();
    return s;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `rtsp://127.0.0.1:${this.#port}/live`;
  }

  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** (Re)starts the server on the same port; no-op while running. Rejects if it does not listen within 10 s. */
  async restart(): Promise<void> {
    if (this.#proc) return;
    const proc = spawn(PYTHON, [SCRIPT, this.#clip, String(this.#port), this.#auth, this.#codec], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000); // bounded: GStreamer may warn a lot
    });
    try {
      this.#port = await new Promise<number>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`RTSP test server did not start in 10 s: ${stderr}`)), 10_000);
        proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /READY (\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        proc.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`RTSP test server exited (${code}) before listening: ${stderr}`));
        });
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Kills the server (SIGKILL: like a camera losing power, no RTSP TEARDOWN) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  }

  /**
   * Freezes the server (SIGSTOP: like a camera that hangs with its TCP connection open — no data, no FIN), or
   * lets it go on (SIGCONT). stop() still kills a frozen server.
   */
  freeze(frozen = true): void {
    this.#proc?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
