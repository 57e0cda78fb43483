/**
 * URL redaction by default (issue 14, item 2): every query value and the fragment are hidden whatever the
 * parameter is called, except a short allowlist of camera selectors; the same through free text. Property test
 * over random secret names and values, plus the source parser every component shares (src/core/source.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrl, redactUrls } from '../../../src/core/redact.ts';
import { parseSource } from '../../../src/core/source.ts';
import { rng } from '../../helpers/rng.ts';

test('redactUrl: names outside any fixed list (auth_token, X-Amz-Signature, session) and fragments are hidden', () => {
  assert.equal(redactUrl('https://cdn.example/live.m3u8?auth_token=abc123&X-Amz-Signature=deadbeef&session=s3cr3t'), 'https://cdn.example/live.m3u8?auth_token=***&X-Amz-Signature=***&session=***');
  assert.equal(redactUrl('rtsp://cam/stream?channel=1&subtype=0'), 'rtsp://cam/stream?channel=1&subtype=0', 'harmless selectors stay readable');
  assert.equal(redactUrl('http://cam/x#access_token=abc'), 'http://cam/x#***');
  assert.equal(redactUrl('http://cam/x?SECRETWORD'), 'http://cam/x?***', 'a bare query word may be a secret');
  assert.equal(redactUrl('http://u:p@cam/x?a=1#f'), 'http://***@cam/x?a=***#***');
  assert.equal(redactUrl('/videos/a?b=c.mp4'), '/videos/a?b=c.mp4', 'a file path is not a URL');
  assert.equal(redactUrls('open http://h/x?k=v1 failed: Connection refused'), 'open http://h/x?k=*** failed: Connection refused', 'the text after the URL survives');
});

test('property: no random secret value survives redaction, alone, among harmless parameters or inside text', () => {
  const random = rng(1402);
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%+';
  const word = (min: number, max: number): string => {
    const n = min + Math.floor(random() * (max - min + 1));
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
    return s;
  };
  for (let i = 0; i < 2000; i++) {
    const secret = `S${word(8, 24)}`; // 9+ characters: cannot appear by chance in the rest of the URL
    let name = word(1, 16);
    if (['channel', 'ch', 'subtype', 'stream', 'profile'].includes(name.toLowerCase())) name += 'x';
    const scheme = ['rtsp', 'rtsps', 'http', 'https'][i % 4];
    const before = random() < 0.5 ? 'channel=2&' : '';
    const after = random() < 0.5 ? '&subtype=1' : '';
    const where = Math.floor(random() * 4);
    const url =
      where === 0 ? `${scheme}://cam.lan/live?${before}${name}=${secret}${after}`
      : where === 1 ? `${scheme}://cam.lan/live#${name}=${secret}`
      : where === 2 ? `${scheme}://${name}:${secret}@cam.lan/live?${before.slice(0, -1)}`
      : `${scheme}://cam.lan/live?${secret}`;
    const out = redactUrl(url);
    assert.ok(!out.includes(secret), `${url} → ${out}`);
    assert.ok(out.startsWith(`${scheme}://`), out);
    if (before && where === 0) assert.ok(out.includes('channel=2'), `harmless kept: ${out}`);
    const text = redactUrls(`cannot open ${url}: Connection refused`);
    assert.ok(!text.includes(secret), text);
    assert.ok(text.endsWith(': Connection refused') || text.endsWith('Connection refused'), text);
  }
});

test('parseSource: one reading of what a source is (files, network URLs, refused protocols)', () => {
  assert.deepEqual(parseSource('whip'), { kind: 'whip' });
  assert.deepEqual(parseSource('/v/a.mp4'), { kind: 'file', path: '/v/a.mp4' });
  assert.deepEqual(parseSource('file:///v/a%20b.mp4'), { kind: 'file', path: '/v/a b.mp4' });
  assert.deepEqual(parseSource('C:\\v\\a.mp4'), { kind: 'file', path: 'C:\\v\\a.mp4' });
  assert.deepEqual(parseSource('rtsp://cam/x'), { kind: 'network', scheme: 'rtsp', url: 'rtsp://cam/x' });
  assert.equal(parseSource('HTTPS://cam/x').kind, 'network');
  for (const s of ['rtsp:127.0.0.1:554/x', 'http:/127.0.0.1/', 'tcp://127.0.0.1:1', 'async:http://h/', 'concat:a|b', 'file:relative', 'file://host/x', '', 'a\0b']) {
    assert.equal(parseSource(s).kind, 'invalid', s);
  }
  // Not a protocol prefix to FFmpeg either, as the opener hands files over as "file:<path>".
  assert.equal(parseSource('subfile,,start,0,end,0,,:/etc/passwd').kind, 'file');
  // FFmpeg's protocol prefix is [A-Za-z0-9+.-]+ then ':': nothing shaped like that is ever a file here.
  const random = rng(7);
  const chars = 'ab1+.-:/\\@ ';
  for (let i = 0; i < 5000; i++) {
    let s = '';
    for (let n = 1 + Math.floor(random() * 12); n > 0; n--) s += chars[Math.floor(random() * chars.length)];
    const p = parseSource(s);
    const proto = /^([A-Za-z0-9+.-]+):/.exec(s)?.[1];
    if (p.kind === 'file' && proto !== undefined) assert.ok(/^[A-Za-z]$/.test(proto), `${JSON.stringify(s)} read as a file but FFmpeg sees protocol ${proto}`);
  }
});
