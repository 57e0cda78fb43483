/**
 * Issue 16: errors say each thing once, and `analyze --zones` takes a zone without a name as the server's config
 * does (the name defaults to the id).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorLine, withoutRepeatedPath } from '../../../src/cli/error-line.ts';
import { parseAnalyzeArgs } from '../../../src/cli/analyze.ts';
import { InputError } from '../../../src/core/errors.ts';

test('errorLine names the input once and drops Node\'s repeated path', () => {
  const e = new InputError('E_INPUT_NOT_FOUND', "/x.mp4: ENOENT: no such file or directory, stat '/x.mp4'");
  assert.equal(errorLine(e, '/x.mp4'), 'facecast: /x.mp4: ENOENT: no such file or directory [E_INPUT_NOT_FOUND]\n');
  // A message that does not name the input gets it in front; a path that is not repeated stays.
  assert.equal(errorLine(new InputError('E_INPUT_INVALID', 'no video stream'), '/y.mp4'), 'facecast: /y.mp4: no video stream [E_INPUT_INVALID]\n');
  assert.equal(withoutRepeatedPath("cannot open, open '/z'"), "cannot open, open '/z'");
  assert.equal(errorLine(new Error('plain')), 'facecast: plain\n');
});

test('analyze --zones: a zone without a name is named by its id', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-zones-'));
  try {
    const file = join(dir, 'zones.json');
    writeFileSync(file, JSON.stringify([{ id: 'door', polygon: [[0, 0], [0.5, 0], [0.5, 0.5]] }]));
    const a = parseAnalyzeArgs(['in.mp4', '--zones', file]);
    assert.ok(a !== 'help');
    assert.deepEqual(a.zones.map((z) => [z.id, z.name]), [['door', 'door']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
