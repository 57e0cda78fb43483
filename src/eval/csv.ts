/**
 * Minimal RFC 4180 CSV reader for label files.
 *
 * Label files come from spreadsheets and dataset tools, so the reader accepts what those write (UTF-8 BOM,
 * CRLF or LF, quoted fields with "" escapes and embedded newlines) and rejects what would silently shift
 * columns (stray quotes, rows with the wrong number of fields). A header row is required: columns are looked
 * up by name, so the order in the file does not matter. Every error names the file and the line.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError, errorMessage } from '../core/errors.js';

export interface CsvRow {
  /** 1-based line of the file on which the record starts (for error messages). */
  line: number;
  /** Field values by (lower-cased, trimmed) header name. */
  values: Record<string, string>;
}

export interface CsvTable {
  /** Lower-cased, trimmed column names in file order. */
  header: string[];
  rows: CsvRow[];
  /** What errors call the input (usually the file path). */
  source: string;
}

export interface LabelFile extends CsvTable {
  /** Absolute path of the CSV. */
  path: string;
  /** Directory that relative image paths in the CSV are resolved against. */
  dir: string;
}

function fail(source: string, line: number, msg: string): never {
  throw new InputError('E_INPUT_INVALID', `${source}:${line}: ${msg}`);
}

/** Splits CSV text into records of raw fields, each with the line it starts on. */
function tokenize(text: string, source: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  // true once the current record has any content; distinguishes a blank line from a record of one empty field
  let started = false;
  const endRecord = (): void => {
    fields.push(field);
    // a blank (or whitespace-only) line is skipped rather than read as a record of one empty field
    if (started && !(fields.length === 1 && fields[0].trim() === '')) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    started = false;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      if (field.trim() !== '') fail(source, line, 'unexpected \'"\' inside an unquoted field (quote the whole field and double inner quotes)');
      const openLine = line;
      if (!started) recordLine = line;
      started = true;
      field = '';
      i++;
      for (;;) {
        if (i >= text.length) fail(source, openLine, 'quoted field is never closed');
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      // after the closing quote only spaces, the delimiter or the end of the record may follow
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') fail(source, line, 'unexpected character after a closing quote');
      continue;
    }
    if (c === ',') {
      if (!started) recordLine = line;
      started = true;
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      continue;
    }
    if (!started) recordLine = line;
    started = true;
    field += c;
    i++;
  }
  if (started) endRecord();
  return records;
}

/** Parses CSV text with a header row. Values are trimmed; header names are also lower-cased. */
export function parseCsv(text: string, source = 'CSV'): CsvTable {
  const records = tokenize(text, source);
  if (records.length === 0) fail(source, 1, 'empty file: a header row is required');
  const head = records[0];
  const header = head.fields.map((h) => h.trim().toLowerCase());
  const seen = new Set<string>();
  for (const [k, h] of header.entries()) {
    if (h === '') fail(source, head.line, `header column ${k + 1} is empty`);
    if (seen.has(h)) fail(source, head.line, `header column "${h}" appears twice`);
    seen.add(h);
  }
  const rows: CsvRow[] = [];
  for (const r of records.slice(1)) {
    // a trailing comma with nothing after it is a common spreadsheet artefact: tolerate one extra empty field
    const fields = r.fields.length === header.length + 1 && r.fields[header.length].trim() === '' ? r.fields.slice(0, -1) : r.fields;
    if (fields.length !== header.length) fail(source, r.line, `expected ${header.length} fields (${header.join(',')}), found ${fields.length}`);
    const values: Record<string, string> = {};
    header.forEach((h, k) => (values[h] = fields[k].trim()));
    rows.push({ line: r.line, values });
  }
  return { header, rows, source };
}

/** Throws unless every required column is in the header. */
export function requireColumns(table: CsvTable, required: readonly string[]): void {
  const missing = required.filter((c) => !table.header.includes(c));
  if (missing.length > 0) {
    fail(table.source, 1, `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} (header: ${table.header.join(',')})`);
  }
}

/** Reads a label CSV; image paths in it are relative to its directory. */
export async function readLabelFile(path: string, required: readonly string[]): Promise<LabelFile> {
  const abs = resolve(path);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    throw new InputError('E_INPUT_NOT_FOUND', `cannot read label file ${path}: ${errorMessage(e)}`, { cause: e });
  }
  const table = parseCsv(text, path);
  requireColumns(table, required);
  return { ...table, path: abs, dir: dirname(abs) };
}

/** Raises a line-numbered input error for a bad value in a row. */
export function rowError(table: CsvTable, row: CsvRow, msg: string): never {
  fail(table.source, row.line, msg);
}

/** Parses a finite number from a field, or raises a line-numbered error naming the column. */
export function parseNumber(table: CsvTable, row: CsvRow, column: string, opts: { min?: number; max?: number } = {}): number {
  const raw = row.values[column] ?? '';
  const v = raw === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) rowError(table, row, `column "${column}": "${raw}" is not a number`);
  if (opts.min !== undefined && v < opts.min) rowError(table, row, `column "${column}": ${v} is below ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) rowError(table, row, `column "${column}": ${v} is above ${opts.max}`);
  return v;
}

/** The canonical form of a label: itself when canonical, else its alias (case-insensitive), else undefined. */
export function canonicalLabel<L extends string>(canonical: readonly L[], aliases: Readonly<Record<string, L>>, value: string): L | undefined {
  const l = value.trim().toLowerCase();
  return (canonical as readonly string[]).includes(l) ? (l as L) : aliases[l];
}
