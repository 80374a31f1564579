/**
 * Drawing Mailpit's attachment thumbnails: a 180x120 JPEG on white. A picture at least that large
 * fills it, scaled to cover and cut to the middle; a smaller one is shrunk to fit if need be and
 * centred. The formats are those Go's image package decodes, as Mailpit's: JPEG, PNG and GIF (its
 * first frame), told by their bytes. Decoding is jpeg-js's, pngjs's and omggif's (plain
 * JavaScript, nothing to build); the scaling is an area average.
 *
 * Nothing is decoded before its header is read: a picture that declares more than `maxPixels`, a
 * JPEG of more than `maxScans` scans and a PNG whose data would inflate past its size (the bombs)
 * give the blank thumbnail, as does anything broken.
 */
import * as zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import { GifReader } from 'omggif';
import { PNG } from 'pngjs';

export const thumbWidth = 180;
export const thumbHeight = 120;
/** Mailpit's JPEG quality for thumbnails. */
const quality = 70;
/** Mailpit's budget: 20 megapixels is 80 MB of pixels, a phone's photo is 12. */
const maxPixels = 20_000_000;
/**
 * Each scan of a progressive JPEG walks the whole picture again, so thousands of tiny scans make
 * a small file cost minutes; encoders write about ten.
 */
const maxScans = 100;

interface Picture {
  readonly width: number;
  readonly height: number;
  /** RGBA, 4 bytes a pixel, row by row. */
  readonly data: Uint8Array;
}

interface Header {
  readonly format: 'jpeg' | 'png' | 'gif';
  readonly width: number;
  readonly height: number;
}

/** The thumbnail of a part's decoded bytes: blank unless they are a picture we decode. */
export function renderThumbnail(content: Buffer): Buffer {
  const canvas = Buffer.alloc(thumbWidth * thumbHeight * 4, 255);
  const picture = decode(content);
  if (picture !== undefined) draw(picture, canvas);
  return jpeg.encode({ data: canvas, width: thumbWidth, height: thumbHeight }, quality).data;
}

function decode(content: Buffer): Picture | undefined {
  try {
    const header = readHeader(content);
    if (header === undefined || header.width * header.height > maxPixels) return undefined;
    if (header.format === 'jpeg')
      return jpeg.decode(content, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6 });
    return header.format === 'png' ? decodePng(content) : decodeGif(content);
  } catch {
    // Broken after all: blank, like any other part.
    return undefined;
  }
}

/** The format and declared size, from the first bytes (as Go's image.DecodeConfig); undefined if none we decode. */
function readHeader(content: Buffer): Header | undefined {
  if (content.subarray(0, 8).equals(pngSignature) && content.toString('latin1', 12, 16) === 'IHDR')
    return { format: 'png', width: content.readUInt32BE(16), height: content.readUInt32BE(20) };
  if (/^GIF8[79]a$/.test(content.toString('latin1', 0, 6)))
    return { format: 'gif', width: content.readUInt16LE(6), height: content.readUInt16LE(8) };
  if (content[0] === 0xff && content[1] === 0xd8) return readJpegHeader(content);
  return undefined;
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The JPEG markers that start a frame (SOF0 to SOF15, which are not DHT, JPG or DAC): its size follows. */
const startsOfFrame = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * A JPEG's size from its frame header, walking its segments to the end, as the decoder will;
 * undefined without a frame, with too many scans, or with bytes where a segment should start.
 */
function readJpegHeader(content: Buffer): Header | undefined {
  let size: { width: number; height: number } | undefined;
  let scans = 0;
  for (let at = 2; at + 1 < content.length;) {
    if (content[at] !== 0xff) return undefined;
    const marker = content[at + 1];
    if (marker === 0xd9) break; // end of image: what follows is not ours to read
    if (marker === 0xff || (marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) {
      at += marker === 0xff ? 1 : 2; // a fill byte, or a marker without a segment
      continue;
    }
    if (startsOfFrame.has(marker))
      size ??= { height: content.readUInt16BE(at + 5), width: content.readUInt16BE(at + 7) };
    at += 2 + content.readUInt16BE(at + 2);
    if (marker === 0xda) {
      if (++scans > maxScans) return undefined;
      at = afterEntropyData(content, at);
    }
  }
  return size && { format: 'jpeg', ...size };
}

/** Where the coded data of a scan ends: at the first marker that is neither a stuffed 0 nor a restart. */
function afterEntropyData(content: Buffer, from: number): number {
  for (let at = content.indexOf(0xff, from); at >= 0; at = content.indexOf(0xff, at + 1)) {
    const next = content[at + 1];
    if (next !== 0x00 && (next < 0xd0 || next > 0xd7)) return at;
  }
  return content.length;
}

function decodePng(content: Buffer): Picture {
  const interlaced = content[28] === 1;
  // pngjs bounds what it inflates by the size, but not for an interlaced picture: checked here.
  if (interlaced) zlib.inflateSync(pngData(content), { maxOutputLength: interlacedSize(content) });
  return PNG.sync.read(content);
}

/** The compressed picture: the IDAT chunks, joined. */
function pngData(content: Buffer): Buffer {
  const data: Buffer[] = [];
  for (let at = 8; at + 8 <= content.length;) {
    const length = content.readUInt32BE(at);
    if (content.toString('latin1', at + 4, at + 8) === 'IDAT') data.push(content.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return Buffer.concat(data);
}

/** What an Adam7-interlaced PNG's data inflates to: each of its 7 passes, a filter byte a row. */
function interlacedSize(content: Buffer): number {
  const [width, height, depth, colour] = [content.readUInt32BE(16), content.readUInt32BE(20), content[24], content[25]];
  const bitsPerPixel = depth * ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colour] ?? 4);
  const passes = [
    [0, 8, 0, 8],
    [4, 8, 0, 8],
    [0, 4, 4, 8],
    [2, 4, 0, 4],
    [0, 2, 2, 4],
    [1, 2, 0, 2],
    [0, 1, 1, 2],
  ];
  let size = 0;
  for (const [x0, dx, y0, dy] of passes) {
    const columns = Math.ceil((width - x0) / dx);
    const rows = Math.ceil((height - y0) / dy);
    if (columns > 0 && rows > 0) size += rows * (1 + Math.ceil((columns * bitsPerPixel) / 8));
  }
  return size;
}

/** The first frame, where it lies on the screen, transparent around it. */
function decodeGif(content: Buffer): Picture | undefined {
  const reader = new GifReader(content);
  const frame = reader.frameInfo(0);
  // omggif would allocate a frame of any size and write past the screen: Go refuses such a frame too.
  if (frame.x + frame.width > reader.width || frame.y + frame.height > reader.height) return undefined;
  const data = new Uint8Array(reader.width * reader.height * 4);
  reader.decodeAndBlitFrameRGBA(0, data);
  return { width: reader.width, height: reader.height, data };
}

/** Scales the picture onto the canvas (see the module comment), over white. */
function draw(picture: Picture, canvas: Buffer): void {
  const { width, height } = picture;
  if (width === 0 || height === 0) return;
  const fills = width >= thumbWidth && height >= thumbHeight;
  // Cover: the scale that fills both sides, cutting the rest; fit: the one that keeps all of it, never enlarging.
  const scale = fills
    ? Math.max(thumbWidth / width, thumbHeight / height)
    : Math.min(1, thumbWidth / width, thumbHeight / height);
  const drawnWidth = Math.min(thumbWidth, Math.max(1, Math.round(width * scale)));
  const drawnHeight = Math.min(thumbHeight, Math.max(1, Math.round(height * scale)));
  // The part of the picture shown, in its own pixels, and where it goes on the canvas.
  const source = { width: drawnWidth / scale, height: drawnHeight / scale };
  const from = { x: (width - source.width) / 2, y: (height - source.height) / 2 };
  const to = { x: Math.floor((thumbWidth - drawnWidth) / 2), y: Math.floor((thumbHeight - drawnHeight) / 2) };
  const span = (start: number, index: number, length: number, drawn: number, limit: number) => {
    const first = Math.floor(start + (index * length) / drawn);
    const end = Math.max(first + 1, Math.ceil(start + ((index + 1) * length) / drawn));
    return [first, Math.min(end, limit)] as const;
  };
  for (let y = 0; y < drawnHeight; y++) {
    const rows = span(from.y, y, source.height, drawnHeight, height);
    for (let x = 0; x < drawnWidth; x++) {
      const columns = span(from.x, x, source.width, drawnWidth, width);
      average(picture, columns, rows, canvas, ((to.y + y) * thumbWidth + to.x + x) * 4);
    }
  }
}

/** The mean colour of a block of the picture, its transparency blended over white, written at `at`. */
function average(
  picture: Picture,
  [left, right]: readonly [number, number],
  [top, bottom]: readonly [number, number],
  canvas: Buffer,
  at: number,
): void {
  const { data } = picture;
  let [red, green, blue, alpha] = [0, 0, 0, 0];
  for (let y = top; y < bottom; y++) {
    for (let i = (y * picture.width + left) * 4, end = (y * picture.width + right) * 4; i < end; i += 4) {
      const a = data[i + 3];
      red += data[i] * a;
      green += data[i + 1] * a;
      blue += data[i + 2] * a;
      alpha += a;
    }
  }
  const total = (right - left) * (bottom - top) * 255;
  const white = 255 * (total - alpha);
  canvas[at] = Math.round((red + white) / total);
  canvas[at + 1] = Math.round((green + white) / total);
  canvas[at + 2] = Math.round((blue + white) / total);
  canvas[at + 3] = 255;
}
