/**
 * Our routes for the test toolkit over HTTP (`connect()`, see src/testing/http-source.ts), under
 * `/api/tms`: stored copies (one per recipient mailbox, as `waitForMessage` sees them) listed,
 * parsed with their links and raw bytes, deleted; an event stream of each copy stored; and the
 * server's fault-injection rules, as objects or in their text form.
 */
import type { FastifyInstance } from 'fastify';
import { ChaosRuleError, chaosRuleToJson, type ChaosRule } from '../../chaos/rule.js';
import type { IndexedMessage, StoreChange } from '../../mailbox/reader.js';
import { messageToJson, metaToJson } from '../../testing/message-json.js';
import { flagsView } from '../../testing/message.js';
import { HttpError, notFound } from '../errors.js';
import { copyId, findCopy, itemId } from '../items.js';
import * as schemas from '../schemas.js';
import type { HttpContext } from '../server.js';

const tags = ['test-mail-server'];

const idsOf = (copy: IndexedMessage) => ({ id: copyId(copy), item: itemId(copy) });

export function registerToolkitRoutes(app: FastifyInstance, context: HttpContext): void {
  registerCopies(app, context);
  registerCopyEvents(app, context);
  registerChaos(app, context);
}

function registerCopies(app: FastifyInstance, { options, view, messages }: HttpContext): void {
  const { reader } = options;
  /** A copy ID, else a Mailpit ID or `latest`: that item's first copy. */
  const copyOf = async (id: string) => findCopy(reader, id) ?? (await view.resolve(id)).copies[0];

  app.get(
    '/api/tms/messages',
    {
      schema: {
        tags,
        summary: 'Every stored copy, oldest first (what other processes stored a moment ago too)',
        response: { 200: schemas.copyListSchema, ...schemas.errorResponses },
      },
    },
    async () => {
      await reader.refresh();
      return { messages: reader.allMessages().map((copy) => metaToJson(copy, idsOf(copy))) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/tms/messages/:id',
    {
      schema: {
        tags,
        summary: 'A stored copy parsed: headers, bodies, attachments, links, flags and its raw bytes',
        description:
          'The ID of a copy, or a Mailpit message ID (or `latest`) for its first copy. Does not mark it read.',
        params: schemas.idParams,
        response: { 200: schemas.parsedMessageSchema, ...schemas.errorResponses },
      },
    },
    async (request) => {
      const copy = await copyOf(request.params.id);
      const parsed = await messages.load(copy);
      if (parsed === undefined) throw notFound();
      return messageToJson(parsed, idsOf(copy));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/tms/messages/:id/raw',
    {
      schema: {
        tags,
        summary: 'A stored copy byte for byte, as the file holds it (message/rfc822)',
        params: schemas.idParams,
        response: schemas.errorResponses,
      },
    },
    async (request, reply) => {
      const raw = await reader.read(await copyOf(request.params.id));
      if (raw === undefined) throw notFound();
      return reply.type('message/rfc822').send(raw);
    },
  );

  app.delete(
    '/api/tms/messages',
    {
      schema: {
        tags,
        summary: 'Delete every stored message of every mailbox and folder (numbering goes on)',
        response: { 200: schemas.emptySchema, ...schemas.errorResponses },
      },
    },
    async () => {
      await reader.removeAll();
      return {};
    },
  );
}

/**
 * `/api/tms/events`: `{ type: 'ready' }` once the server watches (what is stored from then on
 * will be told), then a frame for each change: `added` with the copy's meta, `flags` (the new
 * flags of each message whose flags changed in a folder), `expunged` (numbers removed from a
 * folder), and `folder` (a folder removed, renamed or made anew: what was known of it is stale).
 */
function registerCopyEvents(app: FastifyInstance, { options }: HttpContext): void {
  app.get('/api/tms/events', { websocket: true, schema: { hide: true } }, (socket) => {
    const watch = options.reader.watch('all', (change) => {
      const frame = copyEvent(change);
      if (frame !== undefined) socket.send(JSON.stringify(frame));
    });
    socket.send(JSON.stringify({ type: 'ready' }));
    socket.on('close', () => watch.close());
    socket.on('message', () => socket.close(1008, 'this stream only sends'));
  });
}

function copyEvent(change: StoreChange): object | undefined {
  switch (change.kind) {
    case 'added':
      return { type: 'added', message: metaToJson(change.message, idsOf(change.message)) };
    case 'flags':
      return {
        type: 'flags',
        ...change.folder,
        messages: change.messages.map(({ number, flags }) => ({ number, flags: flagsView(flags) })),
      };
    case 'expunged':
      return { type: 'expunged', ...change.folder, numbers: change.numbers };
    case 'folder':
      return change.change === 'created' ? undefined : { type: 'folder', ...change.folder };
  }
}

function registerChaos(app: FastifyInstance, { options }: HttpContext): void {
  const enabled = () => {
    if (options.chaos === undefined) throw new HttpError('TMS_NOT_ENABLED', 'Chaos is not enabled');
    return options.chaos;
  };
  const chaosResponses = { ...schemas.errorResponses };

  app.get(
    '/api/tms/chaos',
    {
      schema: {
        tags,
        summary: 'The fault-injection rules, in the order they are tried',
        response: { 200: schemas.chaosListSchema, ...chaosResponses },
      },
    },
    () => ({
      rules: enabled()
        .list()
        .map((entry) => ({ ...entry, rule: chaosRuleToJson(entry.rule), remaining: entry.remaining ?? null })),
    }),
  );

  app.post<{ Body: { rule: ChaosRule | string } }>(
    '/api/tms/chaos',
    {
      schema: {
        tags,
        summary: 'Add a rule (an object or its text form); answers its id',
        body: schemas.chaosRuleBody,
        response: { 200: schemas.chaosAddedSchema, ...chaosResponses },
      },
    },
    (request) => {
      try {
        return { id: enabled().add(request.body.rule) };
      } catch (error) {
        if (error instanceof ChaosRuleError) throw new HttpError('TMS_CHAOS_RULE', error.message);
        throw error;
      }
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/tms/chaos/:id',
    {
      schema: {
        tags,
        summary: 'Remove a rule; `removed` is false when there was none with that id',
        params: schemas.chaosIdParams,
        response: { 200: schemas.chaosRemovedSchema, ...chaosResponses },
      },
    },
    (request) => ({ removed: enabled().remove(request.params.id) }),
  );

  app.delete(
    '/api/tms/chaos',
    {
      schema: { tags, summary: 'Remove every rule', response: { 200: schemas.emptySchema, ...chaosResponses } },
    },
    () => {
      enabled().clear();
      return {};
    },
  );
}
