#!/usr/bin/env node
// The single entry point. The thread-pool size must be set before libuv starts its pool (threadpool.ts), the
// polyfill evaluated before anything imports node-av (polyfill.ts).
import './core/threadpool.js';
import './core/polyfill.js';
import { readFileSync } from 'node:fs';
import { FacecastError, UsageError, errorMessage, fromSystemError } from './core/errors.js';
import { PROJECT_ROOT } from './models/manifest.js';
import { errorLine } from './cli/error-line.js';
import { join } from 'node:path';

const HELP = `facecast — real-time face and group-emotion analytics

Usage: facecast <command> [options]

Commands:
  serve [--config FILE] [--host H] [--port N]
                                   the live server: cameras in, analysed faces and group emotion out (REST API,
                                   web page); the built-in demo stream runs when no camera is configured
  models list|build|verify         show, convert (TF.js → ONNX) and check the face models
  analyze INPUT...                 faces, emotions and group emotion of videos/images → CSV, JSONL, ASS,
                                   annotated MP4, summary (JSON + HTML)
  eval emotion|demographics|detection
                                   measure accuracy on a labelled folder (CSV of labels)
  help [command]                   this help, or a command's help
  version                          print the version

Run \`facecast <command> --help\` for a command's options.
Environment: FACECAST_MODELS (extra model manifests, ':'-separated), FACECAST_MODEL_CACHE (where converted
models are cached), FACECAST_LOG (log levels, e.g. "info" or "warn,Engine=debug").
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      if (cmd === 'help' && rest[0]) return main([rest[0], '--help']);
      process.stdout.write(HELP);
      return 0;
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return 0;
    case 'models': {
      const { modelsCommand } = await import('./cli/models.js');
      return modelsCommand(rest);
    }
    case 'eval': {
      const { evalCommand } = await import('./cli/eval.js');
      return evalCommand(rest);
    }
    case 'analyze': {
      const { analyzeCommand } = await import('./cli/analyze.js');
      return analyzeCommand(rest);
    }
    case 'serve': {
      const { serveCommand } = await import('./cli/serve.js');
      return serveCommand(rest);
    }
    default:
      throw new UsageError(`unknown command "${cmd}"; run \`facecast --help\``);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (thrown: unknown) => {
    // Node's system errors (a port in use, an unwritable directory) are the user's to fix: one coded line.
    const e = fromSystemError(thrown);
    if (e instanceof FacecastError) {
      process.stderr.write(errorLine(e));
      process.exitCode = e.code === 'E_USAGE' ? 2 : 1;
    } else {
      process.stderr.write(`facecast: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : errorMessage(e)}\n`);
      process.exitCode = 1;
    }
  },
);
