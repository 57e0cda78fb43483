/** What the tests' own servers (Prometheus, Redis) share: a free loopback port, and a bounded child shutdown. */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A TCP port free right now on 127.0.0.1 (for servers that take an address, not port 0). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (!addr || typeof addr !== 'object') throw new Error('no port');
  return addr.port;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited (or 2 s after the SIGKILL). No-op if gone. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  if (!(await Promise.race([exited.then(() => true), sleep(graceMs, false)]))) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}
