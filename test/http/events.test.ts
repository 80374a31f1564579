/** Mailpit's event WebSocket on a real server, with the `ws` client; the changes come by SMTP and the store. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { packageVersion } from '../../src/version.js';
import { api, apiJson, send, startHttp } from './support.js';

interface Frame {
  Type: string;
  Data: Record<string, unknown> | null;
}

async function listen(t: TestContext) {
  const server = await startHttp(t);
  return { server, port: server.httpPort! };
}

/** A client whose frames can be awaited one by one, by type. */
async function connect(t: TestContext, port: number, headers: Record<string, string> = {}) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/api/events`, { headers });
  t.after(() => socket.close());
  const frames: Frame[] = [];
  const waiting: Array<() => void> = [];
  socket.on('message', (data: Buffer) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    for (const wake of waiting.splice(0)) wake();
  });
  await once(socket, 'open');
  const next = async (type: string): Promise<Frame> => {
    for (;;) {
      const index = frames.findIndex((frame) => frame.Type === type);
      if (index >= 0) return frames.splice(index, 1)[0];
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };
  return { next, frames };
}

test('a client gets stats on connecting', async (t) => {
  const { port } = await listen(t);
  const { next } = await connect(t, port);
  assert.deepEqual((await next('stats')).Data, { Total: 0, Unread: 0, Version: packageVersion() });
});

test('a message to three recipients is one new event, with its summary', async (t) => {
  const { server, port } = await listen(t);
  const { next, frames } = await connect(t, port);
  await next('stats');
  const id = await send(server, { to: 'a@x.test, b@x.test, c@x.test', subject: 'Hi', text: 'yo' });
  await send(server, { to: 'd@x.test', subject: 'Second', text: 'yo' });
  const first = await next('new');
  assert.equal(first.Data?.ID, id);
  assert.equal(first.Data?.Subject, 'Hi');
  assert.equal((await next('new')).Data?.Subject, 'Second', 'the next new event is the next message, not another copy');
  assert.equal(frames.filter((frame) => frame.Type === 'new').length, 0);
});

test('flags changes are update events; deleting the last copy is delete, the last item truncate', async (t) => {
  const { server, port } = await listen(t);
  const a = await send(server, { to: 'a@x.test, b@x.test', subject: 'A' });
  await send(server, { to: 'c@x.test', subject: 'C' });
  const { next } = await connect(t, port);
  const { store } = server;
  await store.setFlags({ mailbox: 'a@x.test', folder: 'INBOX' }, [1], 'add', ['Work']);
  assert.deepEqual((await next('update')).Data, { ID: a, Read: false, Tags: ['Work'] });
  await store.remove({ mailbox: 'a@x.test', folder: 'INBOX' }, [1]);
  await store.remove({ mailbox: 'b@x.test', folder: 'INBOX' }, [1]);
  assert.deepEqual((await next('delete')).Data, { ID: a });
  await store.remove({ mailbox: 'c@x.test', folder: 'INBOX' }, [1]);
  assert.deepEqual(await next('truncate'), { Type: 'truncate', Data: null });
});

/** How the server answers a WebSocket handshake: 'opened', or the HTTP status of its refusal. */
async function handshake(url: string, headers: Record<string, string> = {}): Promise<number | 'opened'> {
  const socket = new WebSocket(url, { headers });
  // Aborting the refused handshake reports an error of its own, which says nothing here.
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.on('close', resolve));
  const outcome = await new Promise<number | 'opened'>((resolve) => {
    socket.once('open', () => resolve('opened'));
    socket.once('unexpected-response', (_request, response: { statusCode: number }) => resolve(response.statusCode));
  });
  socket.terminate();
  await closed;
  return outcome;
}

const streams = ['/api/events', '/api/tms/events'];

test('a WebSocket from another site is refused on both streams (cross-site WebSocket hijacking)', async (t) => {
  const { port } = await listen(t);
  for (const stream of streams)
    assert.equal(await handshake(`ws://127.0.0.1:${port}${stream}`, { Origin: 'https://evil.test' }), 403, stream);
});

test('with basic auth, both streams refuse a client without the password and accept one with it', async (t) => {
  const server = await startHttp(t, { httpAuth: [{ username: 'ann', password: 's3cret' }] });
  const authorization = `Basic ${Buffer.from('ann:s3cret').toString('base64')}`;
  for (const stream of streams) {
    const url = `ws://127.0.0.1:${server.httpPort}${stream}`;
    assert.equal(await handshake(url), 401, stream);
    assert.equal(await handshake(url, { Authorization: `Basic ${Buffer.from('ann:nope').toString('base64')}` }), 401);
    assert.equal(await handshake(url, { Authorization: authorization }), 'opened', stream);
  }
});

test('a WebSocket from the page the server serves is accepted', async (t) => {
  const { port } = await listen(t);
  const { next } = await connect(t, port, { Origin: `http://127.0.0.1:${port}` });
  assert.equal((await next('stats')).Type, 'stats');
});

/** The update frames up to and including the first that `last` accepts. */
async function updatesUntil(next: (type: string) => Promise<Frame>, last: (data: Frame['Data']) => boolean) {
  const updates: Array<Frame['Data']> = [];
  for (;;) {
    const { Data } = await next('update');
    updates.push(Data);
    if (last(Data)) return updates;
  }
}

test('reading a message to three recipients through the API is one update event, with Read true', async (t) => {
  const { server, port } = await listen(t);
  const id = await send(server, { to: 'a@x.test, b@x.test, c@x.test', subject: 'Hi' });
  const { next } = await connect(t, port);
  await api(server, `/api/v1/message/${id}`);
  // Tagging afterwards is the mark: every update the reading caused comes before its own.
  await apiJson(server, 'PUT', '/api/v1/tags', { IDs: [id], Tags: ['Work'] });
  assert.deepEqual(await updatesUntil(next, (data) => (data?.Tags as string[]).length > 0), [
    { ID: id, Read: true, Tags: [] },
    { ID: id, Read: true, Tags: ['Work'] },
  ]);
});

test('tagging a message to three recipients through the API is one update event, with its tags', async (t) => {
  const { server, port } = await listen(t);
  const id = await send(server, { to: 'a@x.test, b@x.test, c@x.test', subject: 'Hi' });
  const { next } = await connect(t, port);
  await apiJson(server, 'PUT', '/api/v1/tags', { IDs: [id], Tags: ['Work'] });
  // Marking it read afterwards is the mark: every update the tagging caused comes before its own.
  await apiJson(server, 'PUT', '/api/v1/messages', { IDs: [id], Read: true });
  assert.deepEqual(await updatesUntil(next, (data) => data?.Read === true), [
    { ID: id, Read: false, Tags: ['Work'] },
    { ID: id, Read: true, Tags: ['Work'] },
  ]);
});

test('deleting an item through the API is a delete event, deleting all of them a truncate', async (t) => {
  const { server, port } = await listen(t);
  const a = await send(server, { to: 'a@x.test, b@x.test', subject: 'A' });
  await send(server, { to: 'c@x.test', subject: 'C' });
  const { next } = await connect(t, port);
  await apiJson(server, 'DELETE', '/api/v1/messages', { IDs: [a] });
  assert.deepEqual((await next('delete')).Data, { ID: a });
  await api(server, '/api/v1/messages', { method: 'DELETE' });
  assert.deepEqual(await next('truncate'), { Type: 'truncate', Data: null });
});

test('stats follow the changes: the totals once mail comes, and again once it is read', async (t) => {
  const { server, port } = await listen(t);
  const { next } = await connect(t, port);
  await next('stats');
  const id = await send(server, { to: 'a@x.test, b@x.test', subject: 'A' });
  await next('new');
  assert.deepEqual((await next('stats')).Data, { Total: 1, Unread: 1, Version: packageVersion() });
  await api(server, `/api/v1/message/${id}`);
  await next('update');
  assert.deepEqual((await next('stats')).Data, { Total: 1, Unread: 0, Version: packageVersion() });
});
