/**
 * The HTTP port is bound at start and the API behind it loads on the first request: what comes
 * while it loads waits and is answered, plain requests and WebSocket handshakes alike.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { send, startHttp } from './support.js';

test('requests and a WebSocket handshake that come while the API loads all wait for it and are answered', async (t) => {
  const server = await startHttp(t);
  await send(server, { to: 'a@x.test', subject: 'Waiting', text: 'yo' });
  const socket = new WebSocket(`ws://127.0.0.1:${server.httpPort}/api/tms/events`);
  t.after(() => socket.close());
  const firstFrame = once(socket, 'message');
  // Sent at once, before any answer: the first of them starts loading the API.
  const answers = await Promise.all(
    Array.from({ length: 5 }, () => fetch(`${server.httpUrl}/api/v1/messages`).then((response) => response.json())),
  );
  for (const answer of answers) assert.equal((answer as { total: number }).total, 1);
  const [frame] = (await firstFrame) as [Buffer];
  assert.deepEqual(JSON.parse(frame.toString()), { type: 'ready' });
});
