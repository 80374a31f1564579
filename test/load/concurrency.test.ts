/**
 * Many writers, one mailbox: concurrent connections to one server, two server processes on
 * one MAIL_DIR, SIGTERM while messages stream in, and clients that hang up mid-DATA.
 * Every message carries a unique marker, so each stored file can be matched to the exact
 * bytes that were sent for it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { CliProcess, python, startServer, tempDir } from '../helpers.js';
import { dotStuff, inData, LoadClient, markedMessage, range, readMarkedFolder } from './load-client.js';

const from = 'load@example.test';
const to = 'sink@example.test';

function sinkFolder(mailDir: string): string {
  return path.join(mailDir, 'example.test', 'sink');
}

/** Sends `count` marked messages over one connection; every one must be stored. */
async function sendAll(port: number, prefix: string, count: number, expected: Map<string, Buffer>): Promise<void> {
  const client = await LoadClient.connect(port);
  await client.greet(`${prefix}.test`);
  for (let m = 1; m <= count; m++) {
    const marker = `${prefix}-m${m}`;
    const message = markedMessage(marker, expected.size + m);
    expected.set(marker, message);
    const reply = await client.send(from, to, message);
    assert.match(reply ?? 'connection closed', /^250 /, `${marker} refused`);
  }
  await client.quit();
}

/**
 * The folder holds exactly messages 1..n, each one of `expected` and intact; unseen is 1-n, the
 * high-water mark n, and no lock, half-written sequences file or temp file is left.
 */
async function checkFull(mailDir: string, expected: ReadonlyMap<string, Buffer>, n: number): Promise<void> {
  const folder = sinkFolder(mailDir);
  const { numbers, byMarker } = await readMarkedFolder(folder, expected);
  assert.deepEqual(numbers, range(n));
  assert.equal(byMarker.size, n);
  assert.deepEqual([...byMarker.keys()].sort(), [...expected.keys()].sort(), 'every marker stored once');
  assert.equal(await readFile(path.join(folder, '.mh_sequences'), 'utf8'), `unseen: 1-${n}\n`);
  assert.equal((await readFile(path.join(folder, '.mh_highwater'), 'utf8')).trim(), String(n));
  const others = (await readdir(folder)).filter((name) => !/^\d+$/.test(name)).sort();
  assert.deepEqual(others, ['.mh_highwater', '.mh_sequences', '.mh_uidvalidity']);
  // Each server keeps its search texts there (of the other's mail, which it indexed) until it stops.
  const temps = (await readdir(path.join(mailDir, '.tmp'))).filter((name) => !name.includes('-search-texts-'));
  assert.deepEqual(temps, []);
  // And Python's reader agrees.
  const view = JSON.parse(
    await python(
      'import json, mailbox, sys\nbox = mailbox.MH(sys.argv[1], create=False)\nprint(json.dumps([box.keys(), box.get_sequences()]))',
      [folder],
    ),
  ) as [number[], Record<string, number[]>];
  assert.deepEqual(view[0], range(n));
  assert.deepEqual(view[1], { unseen: range(n) });
}

async function stop(cli: CliProcess): Promise<void> {
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0, cli.stderr);
}

test('50 concurrent clients x 20 messages into one mailbox: files 1..1000, each intact', async () => {
  const server = await startServer();
  try {
    const expected = new Map<string, Buffer>();
    await Promise.all(range(50).map((c) => sendAll(server.smtpPort, `c${c}`, 20, expected)));
    assert.equal(expected.size, 1000);
    await checkFull(server.mailDir, expected, 1000);
  } finally {
    await server.close();
  }
});

test('two server processes on one MAIL_DIR receiving into one mailbox lose and overwrite nothing', async () => {
  const mailDir = await tempDir();
  const [a, b] = await Promise.all([CliProcess.listening(mailDir), CliProcess.listening(mailDir)]);
  try {
    const expected = new Map<string, Buffer>();
    await Promise.all(
      [a.port, b.port].flatMap((port, server) => range(4).map((c) => sendAll(port, `s${server}c${c}`, 75, expected))),
    );
    assert.equal(expected.size, 600);
    await checkFull(mailDir, expected, 600);
  } finally {
    await Promise.all([stop(a.cli), stop(b.cli)]);
  }
});

test('SIGTERM under load: exit 0, every acknowledged message on disk intact, no partial files, .tmp clean after restart', async () => {
  const mailDir = await tempDir();
  const { cli, port } = await CliProcess.listening(mailDir);
  const expected = new Map<string, Buffer>();
  const acknowledged = new Set<string>();
  const stopAfter = 120;
  const clients = await Promise.all(range(8).map(() => LoadClient.connect(port)));
  await Promise.all(clients.map((client, c) => client.greet(`sender${c}.test`)));
  const exited = cli.exited;

  await Promise.all(
    clients.map(async (client, c) => {
      for (let m = 1; m <= 500; m++) {
        const marker = `t${c}-m${m}`;
        const message = markedMessage(marker, c * 500 + m);
        expected.set(marker, message);
        const reply = await client.send(from, to, message);
        if (reply?.startsWith('250 ')) {
          acknowledged.add(marker);
          if (acknowledged.size === stopAfter) cli.child.kill('SIGTERM');
          continue;
        }
        // The server is going away: a 421 or a closed connection, nothing else.
        assert.ok(reply === undefined || reply.startsWith('421 '), `${marker}: unexpected reply ${reply}`);
        break;
      }
      client.socket.destroy();
    }),
  );
  assert.equal(await exited, 0, cli.stderr);
  assert.ok(acknowledged.size >= stopAfter);
  assert.ok(acknowledged.size < expected.size, 'the senders were stopped by the shutdown');

  const folder = sinkFolder(mailDir);
  // Every file is one whole message as sent (no partial file), every acknowledged one is there.
  const { numbers, byMarker } = await readMarkedFolder(folder, expected);
  for (const marker of acknowledged) assert.ok(byMarker.has(marker), `acknowledged ${marker} missing`);
  assert.deepEqual(numbers, range(numbers.length));
  assert.deepEqual(await readdir(path.join(mailDir, '.tmp')), [], 'a graceful stop leaves no temp files');

  // A temp file as a killed process would leave it; the next start clears it.
  await writeFile(path.join(mailDir, '.tmp', `${cli.child.pid}-424242`), 'Subject: half a mess');
  const again = await CliProcess.listening(mailDir);
  try {
    assert.deepEqual(await readdir(path.join(mailDir, '.tmp')), []);
    const client = await LoadClient.connect(again.port);
    await client.greet();
    const message = markedMessage('after-restart', 1);
    expected.set('after-restart', message);
    assert.match((await client.send(from, to, message)) ?? 'closed', /^250 /);
    await client.quit();
    const after = await readMarkedFolder(folder, expected);
    assert.equal(after.byMarker.get('after-restart'), numbers.length + 1, 'numbering continues');
  } finally {
    await stop(again.cli);
  }
});

test('a client that disconnects mid-DATA leaves nothing on disk; the server carries on', async () => {
  const server = await startServer();
  try {
    const client = await inData(server.smtpPort, from, to);
    const part = dotStuff(markedMessage('cut-short', 3)).subarray(0, 200);
    await new Promise<void>((resolve, reject) =>
      client.socket.write(part, (error) => (error ? reject(error) : resolve())),
    );
    client.socket.destroy();

    // The server still works, and stores the next message as the first in that mailbox.
    const next = await LoadClient.connect(server.smtpPort);
    await next.greet();
    const message = markedMessage('whole', 4);
    assert.match((await next.send(from, 'other@example.test', message)) ?? 'closed', /^250 /);
    await next.quit();
  } finally {
    await server.close();
  }
  assert.equal(
    fs.existsSync(sinkFolder(server.mailDir)),
    false,
    'no folder, so no message file, for the cut-short message',
  );
  assert.deepEqual(
    fs.readdirSync(path.join(server.mailDir, 'example.test', 'other')).filter((n) => /^\d+$/.test(n)),
    ['1'],
  );
  assert.deepEqual(fs.readdirSync(path.join(server.mailDir, '.tmp')), []);
});
