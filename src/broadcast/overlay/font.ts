/**
 * A monospace glyph atlas for burnt-in labels: printable ASCII rendered once (sharp → SVG text, DejaVu Sans
 * Mono or any monospace font fontconfig finds) into an 8-bit coverage map, then blitted per frame with no
 * allocation. Rendering text per frame through SVG would cost milliseconds; a blit costs microseconds.
 */
import sharp from 'sharp';

const FIRST = 32;
const LAST = 126;

export class GlyphAtlas {
  /** Pixel height of a text line. */
  readonly lineHeight: number;
  /** Advance of every glyph (monospace). */
  readonly cellWidth: number;
  /** Coverage 0..255, one row of cells: width = cellWidth × glyph count. */
  readonly coverage: Uint8Array;
  readonly atlasWidth: number;

  private constructor(lineHeight: number, cellWidth: number, coverage: Uint8Array, atlasWidth: number) {
    this.lineHeight = lineHeight;
    this.cellWidth = cellWidth;
    this.coverage = coverage;
    this.atlasWidth = atlasWidth;
  }

  static async create(fontPx: number): Promise<GlyphAtlas> {
    const size = Math.max(6, Math.round(fontPx));
    // DejaVu Sans Mono advances 0.602 em; each glyph gets its own <text> so cells are exact whatever the font.
    const cell = Math.ceil(size * 0.62);
    const lineHeight = Math.ceil(size * 1.25);
    const n = LAST - FIRST + 1;
    const width = cell * n;
    const glyphs: string[] = [];
    for (let c = FIRST; c <= LAST; c++) {
      const ch = String.fromCharCode(c).replace(/[&<>]/g, (x) => `&#${x.charCodeAt(0)};`);
      glyphs.push(`<text x="${(c - FIRST) * cell}" y="${Math.round(size * 0.95)}">${ch}</text>`);
    }
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${lineHeight}"><g font-family="DejaVu Sans Mono, monospace" font-size="${size}" fill="#fff" xml:space="preserve">${glyphs.join('')}</g></svg>`;
    const { data } = await sharp(Buffer.from(svg)).extractChannel('alpha').raw().toBuffer({ resolveWithObject: true });
    return new GlyphAtlas(lineHeight, cell, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width);
  }

  /** Width in pixels of a string drawn with this atlas. */
  measure(text: string): number {
    return text.length * this.cellWidth;
  }

  /** Atlas x offset of a character's cell (unknown characters draw as '?'). */
  cellOf(code: number): number {
    const c = code >= FIRST && code <= LAST ? code : 63;
    return (c - FIRST) * this.cellWidth;
  }
}

const atlases = new Map<number, Promise<GlyphAtlas>>();

/** The atlas for labels on frames of this height (text ~1/40 of the height, at least 10 px), made once per size. */
export function atlasFor(frameHeight: number): Promise<GlyphAtlas> {
  const px = Math.max(10, Math.round(frameHeight / 40));
  let a = atlases.get(px);
  if (!a) {
    a = GlyphAtlas.create(px);
    atlases.set(px, a);
  }
  return a;
}
