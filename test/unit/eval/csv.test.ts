import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../src/core/errors.js';
import { parseCsv, parseNumber, readLabelFile, requireColumns } from '../../../src/eval/csv.js';

function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_INVALID' && re.test(e.message));
}

test('header names are trimmed and lower-cased; values trimmed; line numbers kept', () => {
  const t = parseCsv('File , Label\na.png, happy \nb.png,sad\n');
  assert.deepEqual(t.header, ['file', 'label']);
  assert.deepEqual(t.rows, [
    { line: 2, values: { file: 'a.png', label: 'happy' } },
    { line: 3, values: { file: 'b.png', label: 'sad' } },
  ]);
});

test('BOM, CRLF, blank lines and a missing final newline', () => {
  const t = parseCsv('\ufefffile,label\r\n\r\na.png,happy\r\n   \r\nb.png,sad');
  assert.deepEqual(t.header, ['file', 'label']);
  assert.deepEqual(
    t.rows.map((r) => [r.line, r.values.file]),
    [
      [3, 'a.png'],
      [5, 'b.png'],
    ],
  );
});

test('quoted fields: commas, "" escapes, embedded newlines, empty quoted', () => {
  const t = parseCsv('file,label\n"dir, with comma/a.png","say ""hi"""\n"multi\nline.png",""\nc.png,x\n');
  assert.equal(t.rows[0].values.file, 'dir, with comma/a.png');
  assert.equal(t.rows[0].values.label, 'say "hi"');
  assert.equal(t.rows[1].values.file, 'multi\nline.png');
  assert.equal(t.rows[1].values.label, '');
  // the record after a multi-line field starts on the right line
  assert.equal(t.rows[1].line, 3);
  assert.equal(t.rows[2].line, 5);
});

test('a single trailing empty field (spreadsheet artefact) is tolerated', () => {
  const t = parseCsv('file,label\na.png,happy,\n');
  assert.equal(t.rows[0].values.label, 'happy');
});

test('errors name the source and the line', () => {
  rejects(() => parseCsv('', 'x.csv'), /x\.csv:1: empty file/);
  rejects(() => parseCsv('file,label\na.png\n', 'x.csv'), /x\.csv:2: expected 2 fields/);
  rejects(() => parseCsv('file,label\na.png,b,c,d\n', 'x.csv'), /x\.csv:2: expected 2 fields/);
  rejects(() => parseCsv('file,label\n\na.png,"open\n', 'x.csv'), /x\.csv:3: quoted field is never closed/);
  rejects(() => parseCsv('file,label\na"b.png,x\n', 'x.csv'), /x\.csv:2: unexpected '"'/);
  rejects(() => parseCsv('file,label\n"a.png"x,y\n', 'x.csv'), /x\.csv:2: unexpected character after a closing quote/);
  rejects(() => parseCsv('file,file\n', 'x.csv'), /appears twice/);
  rejects(() => parseCsv('file,,label\n', 'x.csv'), /header column 2 is empty/);
});

test('requireColumns and parseNumber', () => {
  const t = parseCsv('file,age\na.png,12.5\nb.png,abc\nc.png,-3\n', 'l.csv');
  requireColumns(t, ['file', 'age']);
  rejects(() => requireColumns(t, ['file', 'gender', 'race']), /l\.csv:1: missing columns "gender", "race"/);
  assert.equal(parseNumber(t, t.rows[0], 'age'), 12.5);
  rejects(() => parseNumber(t, t.rows[1], 'age'), /l\.csv:3: column "age": "abc" is not a number/);
  rejects(() => parseNumber(t, t.rows[2], 'age', { min: 0 }), /l\.csv:4: .*below 0/);
});

test('readLabelFile resolves the directory and reports a missing file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facecast-csv-'));
  try {
    const p = join(dir, 'labels.csv');
    await writeFile(p, 'file,label\na.png,happy\n');
    const f = await readLabelFile(p, ['file', 'label']);
    assert.equal(f.dir, dir);
    assert.equal(f.rows.length, 1);
    await assert.rejects(readLabelFile(join(dir, 'nope.csv'), ['file']), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_NOT_FOUND');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
