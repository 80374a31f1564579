/** swaks as a client, and the one stored copy it leaves for bob, for the TLS and AUTH tests. */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { exec } from '../helpers.js';
import { splitTrace } from './clients.js';

export const from = 'ann@example.test';
export const to = 'bob@example.test';

/** swaks with a marker in the Subject and body; resolves with its exit code and transcript. */
export function swaks(
  port: number,
  marker: string,
  extra: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return exec('swaks', [
    '--server',
    `127.0.0.1:${port}`,
    '--from',
    from,
    '--to',
    to,
    '--ehlo',
    'swaks.test',
    '--header',
    `Subject: ${marker}`,
    '--body',
    `Body of ${marker}`,
    '--timeout',
    '20',
    ...extra,
  ]);
}

export async function swaksOk(port: number, marker: string, extra: string[]): Promise<string> {
  const result = await swaks(port, marker, extra);
  assert.equal(result.code, 0, `swaks exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The one stored copy for bob: its Subject, body, and the RFC 3848 keyword of its Received line. */
export async function onlyCopy(mailDir: string): Promise<{ subject: string; text: string; protocol: string }> {
  const folder = path.join(mailDir, 'example.test', 'bob');
  assert.deepEqual(
    (await readdir(folder)).filter((name) => /^\d+$/.test(name)),
    ['1'],
  );
  const trace = splitTrace(await readFile(path.join(folder, '1')));
  assert.equal(trace.returnPath, from);
  assert.equal(trace.deliveredTo, to);
  const protocol = / with (\S+) id /.exec(trace.received)?.[1];
  assert.ok(protocol, trace.received);
  const text = trace.message.toString('utf8');
  return { subject: /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? '', text, protocol };
}
