/**
 * Mailpit's API v1 (server/apiv1 in Mailpit v1.30), as its clients call it: `mailpit-api`,
 * `cypress-mailpit`, and scripts written against Mailpit. Success is always 200; `ok` answers
 * are text/plain as Mailpit's, and `latest` works as an ID where Mailpit allows it.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { defaults } from '../../defaults.js';
import type { ParsedContent } from '../../testing/message.js';
import { HttpError, notFound } from '../errors.js';
import { isRead, type Item } from '../items.js';
import { MailpitChaos } from '../mailpit-chaos.js';
import { findPart, headersMap, mailpitMessage, messagesSummary, messageSummary, partId } from '../mailpit.js';
import * as schemas from '../schemas.js';
import { releaseItem } from '../release.js';
import { buildMessage, storeSent, type SendRequest } from '../send.js';
import type { HttpContext } from '../server.js';
import { thumbnail } from '../thumbnail.js';
import type { ItemWithSummary, Page } from '../view.js';

interface ListQuery {
  start: number;
  limit: number;
}
interface SearchQuery extends ListQuery {
  query: string;
  tz?: string;
}
interface LatestQuery {
  query?: string;
  tz?: string;
}
interface IdParams {
  id: string;
}
interface PartParams extends IdParams {
  partId: string;
}

const tags = ['Mailpit'];
const ok = (reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('ok');

export function registerMailpitRoutes(app: FastifyInstance, context: HttpContext): void {
  registerListing(app, context);
  registerMessage(app, context);
  registerSend(app, context);
  registerTags(app, context);
  registerApplication(app, context);
}

function registerListing(app: FastifyInstance, { view }: HttpContext): void {
  const page = (result: Page, start: number) => {
    const { total, unread } = result.counts;
    const counts = {
      total,
      unread,
      tags: view.tags(result.counts),
      start,
      matched: result.matched,
      matchedUnread: result.matchedUnread,
    };
    return messagesSummary(counts, result.items.map(summaryOf));
  };
  const listResponse = { 200: schemas.messagesSummarySchema, ...schemas.errorResponses };

  app.get<{ Querystring: ListQuery }>(
    '/api/v1/messages',
    {
      schema: { tags, summary: 'List messages, newest first', querystring: schemas.listQuery, response: listResponse },
    },
    async (request) => page(await view.list(request.query.start, request.query.limit), request.query.start),
  );

  app.get<{ Querystring: SearchQuery }>(
    '/api/v1/search',
    { schema: { tags, summary: 'Search messages', querystring: schemas.searchQuery, response: listResponse } },
    async (request) => {
      const { query, start, limit, tz } = request.query;
      if (query.trim() === '') throw new HttpError('TMS_BAD_REQUEST', 'Error: no search query');
      return page(await view.searchPage(query, start, limit, { timeZone: tz }), start);
    },
  );

  app.delete<{ Querystring: { query: string; tz?: string } }>(
    '/api/v1/search',
    { schema: { tags, summary: 'Delete the messages a search matches', querystring: schemas.deleteSearchQuery } },
    async (request, reply) => {
      const { query, tz } = request.query;
      if (query.trim() === '') throw new HttpError('TMS_BAD_REQUEST', 'Error: no search query');
      await view.remove((await view.search(query, { timeZone: tz })).map(({ item }) => item));
      return ok(reply);
    },
  );

  app.put<{ Body: { IDs?: string[]; Read: boolean; Search?: string }; Querystring: { tz?: string } }>(
    '/api/v1/messages',
    { schema: { tags, summary: 'Mark messages read or unread', body: schemas.setReadBody } },
    async (request, reply) => {
      const { IDs = [], Read, Search = '' } = request.body ?? { Read: false };
      if (IDs.length > 0 && Search !== '')
        throw new HttpError('TMS_BAD_REQUEST', 'You may specify either IDs or a search query, not both');
      const items =
        Search !== ''
          ? (await view.search(Search, { timeZone: request.query.tz })).map(({ item }) => item)
          : IDs.length > 0
            ? view.byIds(IDs)
            : view.items();
      await view.setRead(items, Read);
      return ok(reply);
    },
  );

  app.delete<{ Body: { IDs?: string[] } | undefined }>(
    '/api/v1/messages',
    {
      schema: {
        tags: ['Mailpit', 'MailHog'],
        summary: 'Delete messages by ID, or all of them',
        description:
          'Without IDs every message is deleted. Answers `ok`, or an empty body (as MailHog) to a client that sends neither Accept nor User-Agent, as the `mailhog` client does, which parses any body as JSON.',
        body: schemas.deleteBody,
      },
    },
    async (request, reply) => {
      const ids = request.body?.IDs ?? [];
      await view.remove(ids.length > 0 ? view.byIds(ids) : view.items());
      const { accept, 'user-agent': userAgent } = request.headers;
      return accept === undefined && userAgent === undefined ? reply.type('text/json').send('') : ok(reply);
    },
  );
}

function registerMessage(app: FastifyInstance, context: HttpContext): void {
  const { view, messages, options } = context;
  const resolve = (id: string, query: LatestQuery) => view.resolve(id, query.query, { timeZone: query.tz });
  const parsed = async (item: Item): Promise<ParsedContent> => {
    const message = await messages.load(item.copies[0]);
    if (message === undefined) throw notFound();
    return message;
  };
  const markRead = async (item: Item) => {
    if (!isRead(item)) await view.setRead([item], true);
  };
  const withLatest = { params: schemas.idParams, querystring: schemas.latestQuery };

  app.get<{ Params: IdParams; Querystring: LatestQuery }>(
    '/api/v1/message/:id',
    {
      schema: {
        tags,
        summary: 'Get a message (marks it read)',
        ...withLatest,
        response: { 200: schemas.messageSchema, ...schemas.errorResponses },
      },
    },
    async (request) => {
      const item = await resolve(request.params.id, request.query);
      const entry = await summarized(context, item);
      const message = mailpitMessage(item, await parsed(item), entry.summary);
      await markRead(item);
      return message;
    },
  );

  app.get<{ Params: IdParams; Querystring: LatestQuery }>(
    '/api/v1/message/:id/headers',
    {
      schema: {
        tags,
        summary: "Get a message's headers",
        ...withLatest,
        response: { 200: schemas.headersSchema, ...schemas.errorResponses },
      },
    },
    async (request) => headersMap((await parsed(await resolve(request.params.id, request.query))).headers),
  );

  app.get<{ Params: IdParams; Querystring: LatestQuery & { dl?: string } }>(
    '/api/v1/message/:id/raw',
    {
      schema: {
        tags,
        summary: 'Get a message as stored, byte for byte (`dl=1`: as a download)',
        params: schemas.idParams,
        querystring: schemas.rawQuery,
      },
    },
    async (request, reply) => {
      const item = await resolve(request.params.id, request.query);
      const raw = await options.reader.read(item.copies[0]);
      if (raw === undefined) throw notFound();
      if (request.query.dl === '1') reply.header('Content-Disposition', `attachment; filename="${item.id}.eml"`);
      return reply.type('text/plain; charset=utf-8').send(raw);
    },
  );

  const namedPart = async ({ params, query }: { params: PartParams; query: LatestQuery }) => {
    const message = await parsed(await resolve(params.id, query));
    const part = findPart(message, params.partId);
    if (part === undefined) throw new HttpError('TMS_NOT_FOUND', 'Part not found');
    const name = part.filename ?? part.contentId ?? partId(message.attachments.indexOf(part));
    return { part, filename: `filename="${encodeURIComponent(name)}"` };
  };

  app.get<{ Params: PartParams; Querystring: LatestQuery }>(
    '/api/v1/message/:id/part/:partId',
    { schema: { tags, summary: 'Get an attachment or inline part', params: schemas.partParams } },
    async (request, reply) => {
      const { part, filename } = await namedPart(request);
      return reply.type(part.contentType).header('Content-Disposition', `inline; ${filename}`).send(part.content);
    },
  );

  app.get<{ Params: PartParams; Querystring: LatestQuery }>(
    '/api/v1/message/:id/part/:partId/thumb',
    {
      schema: {
        tags,
        summary: 'A 180x120 JPEG thumbnail of an image attachment',
        description:
          'As Mailpit draws it: a JPEG, PNG or GIF at least 180x120 is scaled to cover and cut to the middle, a smaller one is centred on white. Any other part, a picture of more than 20 megapixels and a broken one give a blank (white) thumbnail.',
        params: schemas.partParams,
        querystring: schemas.latestQuery,
        response: { 200: schemas.thumbnailResponse, ...schemas.errorResponses },
      },
    },
    async (request, reply) => {
      const { part, filename } = await namedPart(request);
      return reply
        .type('image/jpeg')
        .header('Content-Disposition', filename)
        .send(await thumbnail(part));
    },
  );

  app.post<{ Params: IdParams; Body: { To: string[] } }>(
    '/api/v1/message/:id/release',
    {
      schema: {
        tags,
        summary: 'Send a stored message on to the configured SMTP relay, for these recipients',
        description:
          'The message goes out as it came in, plus our Received line, from its envelope sender. Only the relay the server was started with is used, for recipients its allow-list accepts. No `latest` here, as in Mailpit.',
        params: schemas.idParams,
        body: schemas.releaseBody,
        response: schemas.releaseResponses,
      },
    },
    async (request, reply) => {
      await releaseItem(options, request.params.id, request.body.To);
      return ok(reply);
    },
  );

  app.get<{ Params: { file: string }; Querystring: LatestQuery }>(
    '/view/:file',
    { schema: { tags, summary: "A message's HTML (`{ID}.html`) or text (`{ID}.txt`) part; marks it read" } },
    async (request, reply) => {
      const match = /^(.+)\.(html|txt)$/.exec(request.params.file);
      if (!match) throw new HttpError('TMS_NOT_FOUND', 'Not found');
      const item = await resolve(match[1], request.query);
      const message = await parsed(item);
      const body = match[2] === 'html' ? message.html : message.text;
      if (body === undefined) throw new HttpError('TMS_NOT_FOUND', `The message has no ${match[2]} part`);
      await markRead(item);
      if (match[2] === 'txt') return reply.type('text/plain; charset=utf-8').send(body);
      // The mail's own HTML: no scripts, and inline images served by our part route.
      return reply
        .type('text/html; charset=utf-8')
        .header(
          'Content-Security-Policy',
          "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; font-src *",
        )
        .send(withPartLinks(body, message, item.id));
    },
  );
}

/** `cid:` references rewritten to the part route, as Mailpit's HTML view does. */
function withPartLinks(html: string, message: ParsedContent, id: string): string {
  return html.replace(/(["'(])cid:([^"')\s]+)/gi, (whole, quote: string, cid: string) => {
    const index = message.attachments.findIndex((part) => part.contentId === cid);
    return index < 0 ? whole : `${quote}/api/v1/message/${id}/part/${partId(index)}`;
  });
}

async function summarized(context: HttpContext, item: Item): Promise<ItemWithSummary> {
  const entry = await context.view.summarize(item);
  if (entry === undefined) throw notFound();
  return entry;
}

function summaryOf({ item, summary }: ItemWithSummary) {
  return messageSummary(item, summary);
}

function registerSend(app: FastifyInstance, { options, view }: HttpContext): void {
  app.post<{ Body: SendRequest }>(
    '/api/v1/send',
    {
      bodyLimit: options.maxMessageSize ?? defaults.maxMessageSize,
      schema: {
        tags,
        summary: 'Send a message: it is stored for its recipients as if it came by SMTP',
        body: schemas.sendBody,
        response: { 200: schemas.sendResponse, ...schemas.errorResponses },
      },
    },
    async (request) => {
      if (options.delivery === undefined) throw new HttpError('TMS_NOT_ENABLED', 'Sending is not enabled');
      const built = await buildMessage(request.body);
      const transaction = await storeSent(options.delivery, built, {
        clientAddress: request.ip,
        serverName: options.serverName ?? 'localhost',
      });
      const item = view.resolveTransaction(transaction);
      if (item && request.body.Tags?.length) await view.setTags([item], request.body.Tags);
      return { ID: item?.id ?? transaction };
    },
  );
}

function registerTags(app: FastifyInstance, { view, events }: HttpContext): void {
  app.get(
    '/api/v1/tags',
    {
      schema: {
        tags,
        summary: 'Every tag in use (IMAP keywords, MH sequences)',
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    () => view.tags(),
  );
  app.put<{ Body: { IDs: string[]; Tags?: string[] } }>(
    '/api/v1/tags',
    { schema: { tags, summary: "Set messages' tags, replacing their others", body: schemas.setTagsBody } },
    async (request, reply) => {
      await view.setTags(view.byIds(request.body.IDs), request.body.Tags ?? []);
      return ok(reply);
    },
  );
  app.put<{ Params: { tag: string }; Body: { Name: string } }>(
    '/api/v1/tags/:tag',
    { schema: { tags, summary: 'Rename a tag', params: schemas.tagParams, body: schemas.renameTagBody } },
    async (request, reply) => {
      await view.renameTag(request.params.tag, request.body.Name);
      events.broadcast({ Type: 'prune', Data: null });
      return ok(reply);
    },
  );
  app.delete<{ Params: { tag: string } }>(
    '/api/v1/tags/:tag',
    { schema: { tags, summary: 'Remove a tag from every message', params: schemas.tagParams } },
    async (request, reply) => {
      await view.deleteTag(request.params.tag);
      events.broadcast({ Type: 'prune', Data: null });
      return ok(reply);
    },
  );
}

function registerApplication(app: FastifyInstance, context: HttpContext): void {
  const { options, view } = context;
  const chaos = options.chaos === undefined ? undefined : new MailpitChaos(options.chaos);
  const enabledChaos = () => {
    if (chaos === undefined) throw new HttpError('TMS_NOT_ENABLED', 'Chaos is not enabled');
    return chaos;
  };

  app.get(
    '/api/v1/info',
    { schema: { tags, summary: 'Server information', response: { 200: schemas.infoSchema } } },
    () => {
      const counts = view.counts();
      const { total, unread } = counts;
      const tagCounts = Object.fromEntries(view.tags(counts).map((tag) => [tag, counts.tags.get(tag)!]));
      return {
        Version: options.version ?? '',
        LatestVersion: '',
        Database: '',
        DatabaseSize: 0,
        Messages: total,
        Unread: unread,
        Tags: tagCounts,
        RuntimeStats: {
          Uptime: Math.floor((Date.now() - context.startedAt.getTime()) / 1000),
          MessagesDeleted: 0,
          SMTPAccepted: 0,
          SMTPAcceptedSize: 0,
          SMTPRejected: 0,
          SMTPIgnored: 0,
        },
      };
    },
  );

  app.get(
    '/api/v1/webui',
    { schema: { tags, summary: 'Web UI settings', response: { 200: schemas.webUiSchema } } },
    () => ({
      Label: '',
      MessageRelay: {
        Enabled: options.relay !== undefined,
        SMTPServer: options.relay?.where ?? '',
        ReturnPath: '',
        AllowedRecipients: options.relay?.allowList ?? '',
        BlockedRecipients: '',
        OverrideFrom: '',
        PreserveMessageIDs: false,
        RecipientAllowlist: '',
      },
      SpamAssassin: false,
      ChaosEnabled: chaos !== undefined,
      DuplicatesIgnored: false,
      HideDeleteAllButton: false,
    }),
  );

  const chaosResponse = { 200: schemas.chaosTriggers, ...schemas.errorResponses };
  app.get('/api/v1/chaos', { schema: { tags, summary: "Mailpit's chaos triggers", response: chaosResponse } }, () =>
    enabledChaos().get(),
  );
  app.put<{ Body: Parameters<MailpitChaos['set']>[0] | undefined }>(
    '/api/v1/chaos',
    {
      schema: {
        tags,
        summary: "Set Mailpit's chaos triggers (omitted ones reset)",
        body: schemas.chaosTriggersBody,
        response: chaosResponse,
      },
    },
    (request) => enabledChaos().set(request.body ?? {}),
  );

  app.get('/livez', { schema: { tags, summary: 'Liveness probe' } }, (_request, reply) =>
    reply.type('text/plain').send(''),
  );
  let indexed = false;
  void options.reader.indexed.then(() => (indexed = true));
  app.get(
    '/readyz',
    { schema: { tags, summary: 'Readiness probe: 503 until the index is built' } },
    (_request, reply) => {
      if (!indexed) throw new HttpError('TMS_NOT_READY', 'The index is being built');
      return reply.type('text/plain').send('');
    },
  );
}
