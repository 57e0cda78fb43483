/**
 * Namespaced, levelled logger: `Logger('Converter')` prints `facecast:WARN:Converter message`.
 * Levels come from FACECAST_LOG, e.g. `FACECAST_LOG=info` or `FACECAST_LOG=warn,Batcher=debug`.
 * Logs go to stderr so that CLI output (tables, JSON) on stdout stays machine-readable.
 *
 * Worker threads (the inference engine runs in one) have their own copy of this module and read FACECAST_LOG
 * from their copy of process.env, which Node takes when the Worker is constructed: configureLogging() therefore
 * writes the spec back to process.env so that a `--quiet` set in the main thread also quiets engine workers
 * started after it.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

let defaultLevel: LogLevel = 'info';
const moduleLevels = new Map<string, LogLevel>();

function isLevel(s: string): s is LogLevel {
  return s in ORDER;
}

export function configureLogging(spec: string | undefined): void {
  moduleLevels.clear();
  defaultLevel = 'info';
  if (spec === undefined) delete process.env.FACECAST_LOG;
  else process.env.FACECAST_LOG = spec;
  if (!spec) return;
  for (const part of spec.split(',')) {
    const [a, b] = part.split('=').map((s) => s.trim());
    if (b === undefined) {
      if (a && isLevel(a)) defaultLevel = a;
    } else if (a && isLevel(b)) {
      moduleLevels.set(a, b);
    }
  }
}
configureLogging(process.env.FACECAST_LOG);

/** `--quiet`: warnings and errors only, unless the user chose levels with FACECAST_LOG. */
export function quietLogging(): void {
  if (!process.env.FACECAST_LOG) configureLogging('warn');
}

export class Logger {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  private enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[moduleLevels.get(this.name) ?? defaultLevel];
  }
  private write(level: LogLevel, msg: string, extra: unknown[]): void {
    if (!this.enabled(level)) return;
    const tail = extra.length ? ' ' + extra.map((x) => (x instanceof Error ? x.stack ?? x.message : typeof x === 'string' ? x : JSON.stringify(x))).join(' ') : '';
    process.stderr.write(`facecast:${level.toUpperCase()}:${this.name} ${msg}${tail}\n`);
  }
  debug(msg: string, ...extra: unknown[]): void {
    this.write('debug', msg, extra);
  }
  info(msg: string, ...extra: unknown[]): void {
    this.write('info', msg, extra);
  }
  warn(msg: string, ...extra: unknown[]): void {
    this.write('warn', msg, extra);
  }
  error(msg: string, ...extra: unknown[]): void {
    this.write('error', msg, extra);
  }
}
