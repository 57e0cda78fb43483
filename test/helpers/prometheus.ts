/**
 * A real Prometheus (Debian's `prometheus` package, /usr/bin/prometheus) for the end-to-end tests: a temp
 * config scraping the given targets every second, a temp TSDB, the web API on a free 127.0.0.1 port. Every wait
 * is bounded; close() kills it and removes its files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, stopChild } from './process.ts';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

/** Why Prometheus cannot run here, or undefined. */
export function prometheusUnavailable(): string | undefined {
  for (const bin of [PROMETHEUS_BIN, PROMTOOL_BIN]) if (!existsSync(bin)) return `${bin} not found: install Debian's "prometheus" package (apt-get install prometheus; .ci/run does)`;
  return undefined;
}

export interface PrometheusOptions {
  /** host:port targets of the one scrape job. */
  targets: string[];
  metricsPath?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  bearerToken?: string;
}

/** One sample of an instant vector. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export class PrometheusServer implements AsyncDisposable {
  readonly base: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #log: () => string;
  #closing: Promise<void> | undefined;

  private constructor(base: string, child: ChildProcess, dir: string, log: () => string) {
    this.base = base;
    this.#child = child;
    this.#dir = dir;
    this.#log = log;
  }

  /** Starts Prometheus and waits until /-/ready (at most 30 s; a port taken meanwhile is retried twice). */
  static async start(opts: PrometheusOptions): Promise<PrometheusServer> {
    const missing = prometheusUnavailable();
    if (missing) throw new Error(missing);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await PrometheusServer.#startOnce(opts);
      } catch (e) {
        lastError = e;
        if (!/address already in use/.test(String(e))) break;
      }
    }
    throw lastError;
  }

  static async #startOnce(opts: PrometheusOptions): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'fc-prom-'));
    const auth = opts.bearerToken ? `    authorization:\n      type: Bearer\n      credentials: ${JSON.stringify(opts.bearerToken)}\n` : '';
    const config = `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: facecast\n    metrics_path: ${opts.metricsPath ?? '/metrics'}\n${auth}    static_configs:\n      - targets: ${JSON.stringify(opts.targets)}\n`;
    writeFileSync(join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    const child = spawn(PROMETHEUS_BIN, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h', '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir, () => log);
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      const ok = await fetch(`${server.base}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return server;
      await sleep(100);
    }
    await server.close();
    throw new Error(`prometheus did not become ready: ${log.slice(-2000)}`);
  }

  /** What Prometheus wrote to stderr (the last 20 kB). */
  log(): string {
    return this.#log();
  }

  /** An instant query, evaluated now; rejects with Prometheus's error (bad PromQL) or on a 5 s timeout. */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success' || !body.data) throw new Error(`query ${promql}: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector') throw new Error(`query ${promql}: a ${body.data.resultType}, not a vector`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Polls `promql` every 250 ms until `ok` holds for its result (at most `timeoutMs`); returns the last result. */
  async until(promql: string, ok: (r: Sample[]) => boolean, timeoutMs: number): Promise<Sample[]> {
    const end = performance.now() + timeoutMs;
    let r: Sample[] = [];
    while (performance.now() < end) {
      r = await this.query(promql);
      if (ok(r)) return r;
      await sleep(250);
    }
    return r;
  }

  /** SIGTERM (SIGKILL after 5 s), then removes its temp files. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await stopChild(this.#child, 5000);
      rmSync(this.#dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
