/**
 * A real Redis (Debian's `redis-server` package) for the cluster tests: on a free 127.0.0.1 port, no
 * persistence, in a temp dir. Every wait is bounded; close() kills it and removes its files. A missing binary is
 * an error that says what to install (tests fail rather than skip).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, stopChild } from './process.ts';

export const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/** PING over a raw socket: true when Redis answers PONG within 1 s. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export class RedisServer implements AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #log: () => string;
  #closing: Promise<void> | undefined;

  private constructor(port: number, child: ChildProcess, dir: string, log: () => string) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#child = child;
    this.#dir = dir;
    this.#log = log;
  }

  /** Starts redis-server and waits until it answers PING (at most 10 s). */
  static async start(): Promise<RedisServer> {
    if (!existsSync(REDIS_BIN)) throw new Error(`${REDIS_BIN} not found: install Debian's "redis-server" package (apt-get install redis-server; .ci/run does)`);
    const dir = mkdtempSync(join(tmpdir(), 'fc-redis-'));
    const port = await freePort();
    const child = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const append = (d: Buffer): void => void (log = (log + d.toString()).slice(-10_000));
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const server = new RedisServer(port, child, dir, () => log);
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await ping(port)) return server;
      await sleep(100);
    }
    await server.close();
    throw new Error(`redis-server did not start: ${log.slice(-2000)}`);
  }

  log(): string {
    return this.#log();
  }

  /** Sends a signal to redis-server (SIGSTOP / SIGCONT: a frozen Redis, for fault tests). */
  signal(sig: NodeJS.Signals): void {
    this.#child.kill(sig);
  }

  /** SIGTERM (SIGKILL after 3 s), then removes its temp dir. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await stopChild(this.#child, 3000);
      rmSync(this.#dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
