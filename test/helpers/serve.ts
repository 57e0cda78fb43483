/** Runs `facecast serve` from source as a child process, for the end-to-end tests. */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServeProcess {
  /** http://127.0.0.1:PORT */
  base: string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit code (SIGKILL and 'timeout' if it does not exit within 15 s). */
  stop(): Promise<number | null | 'timeout'>;
  /** SIGKILL (a crash, for failover tests); resolves once the process is gone (at most 5 s). */
  kill(): Promise<void>;
  /** Sends a signal (SIGSTOP / SIGCONT: freezing an instance, for fault tests). */
  signal(sig: NodeJS.Signals): void;
}

/** Runs `facecast serve` expecting it to exit by itself (a refusal to start): its exit code and stderr. */
export async function serveExit(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null | 'timeout'; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', ...args], {
    env: { ...process.env, FACECAST_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (code === 'timeout') child.kill('SIGKILL');
  return { code, stderr };
}

/** Starts the server (pass `--port 0` or a config with port 0) and waits until it serves (at most 60 s). */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', ...args], {
    env: { ...process.env, FACECAST_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const stop = async (): Promise<number | null | 'timeout'> => {
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') child.kill('SIGKILL');
    return code;
  };
  let base = '';
  for (let i = 0; i < 600 && !base && child.exitCode === null; i++) {
    // Whatever the listen address (0.0.0.0 in the exposure tests), the tests reach it on 127.0.0.1.
    const port = /serving http:\/\/(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)\//.exec(stderr)?.[1];
    base = port ? `http://127.0.0.1:${port}` : '';
    if (!base) await sleep(100);
  }
  if (!base) {
    await stop();
    throw new Error(`facecast serve did not start: ${stderr.slice(-2000)}`);
  }
  const kill = async (): Promise<void> => {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(5000)]);
  };
  return { base, stderr: () => stderr, stop, kill, signal: (sig) => void child.kill(sig) };
}
