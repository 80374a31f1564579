/**
 * MailHog's API (MailHog-Server api/v1.go and api/v2.go), for the `mailhog` client and MailHog's
 * users. `DELETE /api/v1/messages` is shared with Mailpit (see its route); MailHog's v1 list is
 * not served, since `GET /api/v1/messages` is Mailpit's and no client uses MailHog's.
 */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import { findItem, type Item } from '../items.js';
import { mailhogMessage, type MailhogMessage } from '../mailhog.js';
import * as schemas from '../schemas.js';
import type { HttpContext } from '../server.js';
import { releaseItem } from '../release.js';

const tags = ['MailHog'];

type Kind = 'from' | 'to' | 'containing';

export function registerMailhogRoutes(app: FastifyInstance, context: HttpContext): void {
  const { view, options } = context;
  const { reader } = options;

  const message = async (item: Item): Promise<MailhogMessage | undefined> => {
    const [first] = item.copies;
    const raw = await reader.read(first, { crlf: true });
    return raw === undefined
      ? undefined
      : mailhogMessage({ id: item.id, envelope: first.envelope, receivedAt: first.receivedAt, raw });
  };
  const page = async (items: readonly Item[], total: number, start: number) => {
    const messages = (await Promise.all(items.map(message))).filter((m): m is MailhogMessage => m !== undefined);
    return { total, count: messages.length, start, items: messages };
  };
  const found = (id: string) => {
    const item = findItem(reader, id);
    if (item === undefined) throw notFound();
    return item;
  };
  const listResponse = { 200: schemas.mailhogMessagesSchema, ...schemas.errorResponses };

  app.get<{ Querystring: { start: number; limit: number } }>(
    '/api/v2/messages',
    {
      schema: {
        tags,
        summary: 'List messages, newest first',
        querystring: schemas.mailhogListQuery,
        response: listResponse,
      },
    },
    async (request) => {
      const { start, limit } = request.query;
      return page(view.page(start, limit), view.size, start);
    },
  );

  app.get<{ Querystring: { kind: Kind; query: string; start: number; limit: number } }>(
    '/api/v2/search',
    {
      schema: {
        tags,
        summary: 'Search by sender, recipient or content',
        querystring: schemas.mailhogSearchQuery,
        response: listResponse,
      },
    },
    async (request) => {
      const { kind, query, start, limit } = request.query;
      const matches = await searchKind(context, kind, query.toLowerCase());
      return page(matches.slice(start, start + limit), matches.length, start);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/messages/:id',
    {
      schema: {
        tags,
        summary: 'Get a message',
        params: schemas.idParams,
        response: { 200: schemas.mailhogMessageSchema, ...schemas.errorResponses },
      },
    },
    async (request) => (await message(found(request.params.id))) ?? Promise.reject(notFound()),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/messages/:id',
    { schema: { tags, summary: 'Delete a message', params: schemas.idParams } },
    async (request, reply) => {
      await view.remove([found(request.params.id)]);
      return reply.type('text/json').send('');
    },
  );

  app.post<{ Params: { id: string }; Body: { Email: string } }>(
    '/api/v1/messages/:id/release',
    {
      schema: {
        tags,
        summary: 'Send a stored message on to the configured SMTP relay, for `Email`',
        description:
          "MailHog's body names a server (`Host`, `Port`, credentials): those are read but not used; the message goes to the relay this server was started with, if its allow-list accepts `Email`.",
        params: schemas.idParams,
        body: schemas.mailhogReleaseBody,
        response: schemas.releaseResponses,
      },
    },
    async (request, reply) => {
      await releaseItem(options, request.params.id, [request.body.Email]);
      return reply.type('text/json').send('');
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/messages/:id/download',
    { schema: { tags, summary: 'Download a message as stored', params: schemas.idParams } },
    async (request, reply) => {
      const item = found(request.params.id);
      const raw = await reader.read(item.copies[0]);
      if (raw === undefined) throw notFound();
      return reply
        .type('message/rfc822')
        .header('Content-Disposition', `attachment; filename="${item.id}.eml"`)
        .send(raw);
    },
  );
}

/** MailHog's kinds, case-insensitive substrings: the envelope (else the header) for from and to, any header or the body for containing. */
async function searchKind({ view, options }: HttpContext, kind: Kind, query: string): Promise<Item[]> {
  const items = view.items();
  if (kind !== 'containing') {
    return items.filter(({ copies: [first] }) =>
      (kind === 'from' ? [first.envelope.from] : first.envelope.to).some((path) => path.toLowerCase().includes(query)),
    );
  }
  const matches = await Promise.all(
    items.map(async (item) =>
      (await options.reader.read(item.copies[0]))?.toString('utf8').toLowerCase().includes(query),
    ),
  );
  return items.filter((_item, index) => matches[index] === true);
}
