/**
 * Mailpit's attachment thumbnails, against a real server: pictures made here (pngjs, jpeg-js,
 * omggif) go out as attachments over SMTP (nodemailer), the thumbnails come back through the
 * `mailpit-api` client and plain fetch, and are decoded (jpeg-js) to check what they show.
 * The bombs are pictures that would decode if the budget did not stop them, so each shows its
 * picture, not the blank thumbnail, when the check is missing; the interlaced PNG, which pngjs
 * refuses in the end, by the memory it takes first.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import { MailpitClient } from 'mailpit-api';
import { GifWriter } from 'omggif';
import { PNG } from 'pngjs';
import type { TestMailServer } from '../../src/index.js';
import { startServer } from '../helpers.js';
import { api, send } from './support.js';

type Rgb = readonly [number, number, number];
const red: Rgb = [255, 0, 0];
const blue: Rgb = [0, 0, 255];
const green: Rgb = [0, 160, 0];
const white: Rgb = [255, 255, 255];

interface Attachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

/** A PNG of `width` x `height` painted by `paint`, by pngjs. */
function png(width: number, height: number, paint: (x: number, y: number) => Rgb): Buffer {
  const picture = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) picture.data.set([...paint(x, y), 255], (y * width + x) * 4);
  return PNG.sync.write(picture);
}

/** A JPEG likewise, by jpeg-js. */
function jpegOf(width: number, height: number, paint: (x: number, y: number) => Rgb): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...paint(x, y), 255], (y * width + x) * 4);
  return jpeg.encode({ data, width, height }, 90).data;
}

/** A PNG written chunk by chunk, for headers no encoder writes. */
function pngChunks(chunks: [string, Buffer][]): Buffer {
  const chunk = ([type, data]: [string, Buffer]) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, body, crc]);
  };
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, ...chunks.map(chunk), chunk(['IEND', Buffer.alloc(0)])]);
}

/**
 * A zlib stream that inflates to `megabytes` MB of zeros, made without holding them: one block of
 * a megabyte, repeated (each refers only to itself), then an empty last block; no checksum.
 */
function zeros(megabytes: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const blocks = Array<Buffer>(megabytes).fill(block);
  return Buffer.concat([Buffer.from([0x78, 0x9c]), ...blocks, Buffer.from([0x03, 0x00]), Buffer.alloc(4)]);
}

/** An IHDR: `colour` 0 is grey, 2 RGB; 8 bits a sample. */
function ihdr(width: number, height: number, colour: number, interlaced = false): [string, Buffer] {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.set([8, colour, 0, 0, interlaced ? 1 : 0], 8);
  return ['IHDR', data];
}

/** One server for every test: each sends a message of its own. */
let server: TestMailServer;
before(async () => {
  server = await startServer({ httpPort: 0 });
});
after(() => server.close());

/** Mail with these attachments over SMTP; the message's ID and its attachments' part IDs. */
async function mailWith(attachments: Attachment[]): Promise<[string, string[]]> {
  const id = await send(server, { to: 'ann@example.test', subject: 'Pictures', text: 'See attached', attachments });
  const message = (await (await api(server, `/api/v1/message/${id}`)).json()) as { Attachments: { PartID: string }[] };
  return [id, message.Attachments.map((part) => part.PartID)];
}

/** The thumbnail of a picture sent as the one attachment of a message, decoded. */
async function thumbnailOf(attachment: Attachment): Promise<jpeg.UintArrRet> {
  const [id, [part]] = await mailWith([attachment]);
  const response = await api(server, `/api/v1/message/${id}/part/${part}/thumb`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'image/jpeg');
  return decoded(Buffer.from(await response.arrayBuffer()));
}

function decoded(thumb: Buffer): jpeg.UintArrRet {
  const picture = jpeg.decode(thumb, { useTArray: true });
  assert.deepEqual([picture.width, picture.height], [180, 120]);
  return picture;
}

/** The colour at (x, y) is `expected`, give or take what JPEG makes of it. */
function assertColour(picture: jpeg.UintArrRet, x: number, y: number, expected: Rgb): void {
  const at = (y * picture.width + x) * 4;
  const actual = [...picture.data.subarray(at, at + 3)];
  const near = actual.every((value, i) => Math.abs(value - expected[i]) <= 40);
  assert.ok(near, `at ${x},${y}: ${actual.join(',')}, not ${expected.join(',')}`);
}

function assertBlank(picture: jpeg.UintArrRet): void {
  for (let y = 0; y < 120; y += 7) for (let x = 0; x < 180; x += 7) assertColour(picture, x, y, white);
}

test('a large PNG is scaled to cover and cut to the middle: red on the left, blue on the right', async () => {
  // 600x300 covers 180x120 at 240x120, cutting 30 pixels (75 of the picture's) off each side: the green goes.
  const paint = (x: number): Rgb => (x < 60 || x >= 540 ? green : x < 300 ? red : blue);
  const content = png(600, 300, paint);
  const [id, [part]] = await mailWith([{ filename: 'halves.png', content, contentType: 'image/png' }]);
  const blob = await new MailpitClient(server.httpUrl!).getAttachmentThumbnail(id, part);
  assert.equal(blob.type, 'image/jpeg');
  const picture = decoded(Buffer.from(await blob.arrayBuffer()));
  for (const y of [0, 60, 119]) {
    assertColour(picture, 0, y, red);
    assertColour(picture, 80, y, red);
    assertColour(picture, 100, y, blue);
    assertColour(picture, 179, y, blue);
  }
});

test('a JPEG attachment is drawn too: red above, blue below', async () => {
  const content = jpegOf(360, 240, (_x, y) => (y < 120 ? red : blue));
  const picture = await thumbnailOf({ filename: 'photo.jpg', content, contentType: 'image/jpeg' });
  assertColour(picture, 90, 10, red);
  assertColour(picture, 10, 50, red);
  assertColour(picture, 90, 110, blue);
  assertColour(picture, 170, 70, blue);
});

test("a GIF's first frame is drawn", async () => {
  const buffer = Buffer.alloc(4096);
  const writer = new GifWriter(buffer, 200, 150, { palette: [0xff0000, 0x0000ff] });
  writer.addFrame(
    0,
    0,
    200,
    150,
    Array.from({ length: 200 * 150 }, (_, i) => (i % 200 < 100 ? 0 : 1)),
  );
  const content = buffer.subarray(0, writer.end());
  const picture = await thumbnailOf({ filename: 'halves.gif', content, contentType: 'image/gif' });
  assertColour(picture, 20, 60, red);
  assertColour(picture, 160, 60, blue);
});

test('a small picture is centred on white, not enlarged', async () => {
  const content = png(60, 40, () => red);
  const picture = await thumbnailOf({ filename: 'small.png', content, contentType: 'image/png' });
  // 60x40 in the middle of 180x120: from (60, 40) to (119, 79).
  assertColour(picture, 90, 60, red);
  assertColour(picture, 64, 44, red);
  assertColour(picture, 115, 75, red);
  for (const [x, y] of [
    [50, 60],
    [130, 60],
    [90, 30],
    [90, 90],
    [0, 0],
    [179, 119],
  ])
    assertColour(picture, x, y, white);
});

test('a part that is not a picture gives the blank thumbnail', async () => {
  const content = Buffer.from('Just words');
  assertBlank(await thumbnailOf({ filename: 'notes.txt', content, contentType: 'text/plain' }));
});

test('a picture not sent as an image/ type gives the blank thumbnail, as in Mailpit', async () => {
  const content = png(300, 200, () => red);
  assertBlank(await thumbnailOf({ filename: 'red.bin', content, contentType: 'application/octet-stream' }));
});

test('a corrupt PNG gives the blank thumbnail', async () => {
  const content = png(300, 200, () => red);
  content.fill(0x55, 40, 80); // in the picture's data: its checksum no longer matches
  assertBlank(await thumbnailOf({ filename: 'broken.png', content, contentType: 'image/png' }));
});

test('a PNG whose header claims 100000x100000 gives the blank thumbnail', async () => {
  const content = pngChunks([ihdr(100_000, 100_000, 2), ['IDAT', zlib.deflateSync(Buffer.alloc(300_001 * 4))]]);
  assertBlank(await thumbnailOf({ filename: 'bomb.png', content, contentType: 'image/png' }));
});

test('a picture over the 20-megapixel budget is not decoded: a grey 4500x4500 PNG gives the blank thumbnail', async () => {
  const row = Buffer.alloc(1 + 4500, 128);
  row[0] = 0; // no filter
  const content = pngChunks([ihdr(4500, 4500, 0), ['IDAT', zlib.deflateSync(Buffer.concat(Array(4500).fill(row)))]]);
  assertBlank(await thumbnailOf({ filename: 'large.png', content, contentType: 'image/png' }));
});

test('an interlaced PNG whose data inflates past its size is not inflated: its memory is never taken', async () => {
  // 100x100 RGB needs about 30 KB; pngjs would inflate all 512 MB of these zeros before finding too many.
  const bomb = pngChunks([ihdr(100, 100, 2, true), ['IDAT', zeros(512)]]);
  const [id, parts] = await mailWith([
    { filename: 'small.png', content: png(100, 100, () => red), contentType: 'image/png' },
    { filename: 'inflating.png', content: bomb, contentType: 'image/png' },
  ]);
  const thumb = async (part: string) =>
    decoded(Buffer.from(await (await api(server, `/api/v1/message/${id}/part/${part}/thumb`)).arrayBuffer()));
  // A thread's own memory, counted in the peak before the bomb's thumbnail.
  assertColour(await thumb(parts[0]), 90, 60, red);
  const peak = process.resourceUsage().maxRSS;
  assertBlank(await thumb(parts[1]));
  const grown = (process.resourceUsage().maxRSS - peak) >> 10;
  assert.ok(grown < 128, `the process's peak memory grew by ${grown} MB`);
});

test('a JPEG of more scans than any encoder writes gives the blank thumbnail', async () => {
  // Its one scan, repeated: each decodes the same red again, at the cost of a whole pass.
  const content = jpegOf(200, 150, () => red);
  const scan = content.indexOf(Buffer.from([0xff, 0xda]));
  const scans = content.subarray(scan, content.length - 2);
  const repeated = Buffer.concat([
    content.subarray(0, scan),
    ...Array<Buffer>(101).fill(scans),
    Buffer.from([0xff, 0xd9]),
  ]);
  assertBlank(await thumbnailOf({ filename: 'scans.jpg', content: repeated, contentType: 'image/jpeg' }));
});

test('a GIF whose frame lies beyond its screen gives the blank thumbnail', async () => {
  const buffer = Buffer.alloc(4096);
  const writer = new GifWriter(buffer, 200, 150, { palette: [0xff0000, 0x0000ff] });
  writer.addFrame(0, 0, 200, 150, Array<number>(200 * 150).fill(0));
  const content = buffer.subarray(0, writer.end());
  content.writeUInt16LE(100, 6); // the screen, now narrower than the frame
  assertBlank(await thumbnailOf({ filename: 'wide.gif', content, contentType: 'image/gif' }));
});

test('the thumbnail of an unknown part is 404, and `latest` names the newest message', async () => {
  const content = png(300, 200, () => blue);
  const [id, [part]] = await mailWith([{ filename: 'blue.png', content, contentType: 'image/png' }]);
  assert.equal((await api(server, `/api/v1/message/${id}/part/99/thumb`)).status, 404);
  assert.equal((await api(server, `/api/v1/message/nope/part/${part}/thumb`)).status, 404);
  const latest = await api(server, `/api/v1/message/latest/part/${part}/thumb`);
  assertColour(decoded(Buffer.from(await latest.arrayBuffer())), 90, 60, blue);
});

test('the OpenAPI document describes the thumbnail as a JPEG', async () => {
  const doc = (await (await api(server, '/api/v1/openapi.json')).json()) as {
    paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
  };
  const operation = doc.paths['/api/v1/message/{id}/part/{partId}/thumb']?.get;
  assert.ok(operation, 'the route is described');
  assert.deepEqual(Object.keys(operation.responses['200'].content ?? {}), ['image/jpeg']);
  assert.ok(operation.responses['404'], 'its 404 is described');
});
