/**
 * Every request and response schema of the HTTP API, in one place: Fastify validates requests
 * and serializes responses with them, and the OpenAPI document is generated from them.
 */

const string = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const strings = { type: 'array', items: string } as const;

function object<P extends Record<string, unknown>>(properties: P, description?: string) {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
    ...(description ? { description } : {}),
  } as const;
}

export const errorSchema = object({ Error: string, code: string }, 'An error: its text and a stable code');
export const okText = { type: 'string', description: 'The text `ok`' } as const;

const address = object({ Name: string, Address: string });
const addresses = { type: 'array', items: address } as const;

export const messageSummarySchema = object(
  {
    ID: { type: 'string', description: 'Opaque and URL-safe: the SMTP transaction id for mail that came by SMTP' },
    MessageID: { type: 'string', description: 'The Message-ID header without its angle brackets' },
    Read: boolean,
    From: address,
    To: addresses,
    Cc: addresses,
    Bcc: { ...addresses, description: 'The Bcc header and the envelope recipients no header names' },
    ReplyTo: addresses,
    Subject: string,
    Created: { type: 'string', format: 'date-time' },
    Username: string,
    Tags: strings,
    Size: integer,
    Attachments: { type: 'integer', description: 'How many attachments (inline parts not counted)' },
    Snippet: string,
  },
  'One message as sent: every copy of one SMTP transaction',
);

export const messagesSummarySchema = object({
  total: { type: 'integer', description: 'Messages stored' },
  unread: { type: 'integer', description: 'Unread messages stored' },
  count: { type: 'integer', description: 'Messages in this response' },
  messages_count: { type: 'integer', description: 'Messages matching the query (all when listing)' },
  messages_unread: { type: 'integer', description: 'Unread messages matching the query' },
  start: integer,
  tags: strings,
  messages: { type: 'array', items: messageSummarySchema },
});

const attachment = object({
  PartID: { type: 'string', description: 'Opaque; names the part in /part/{PartID}' },
  FileName: string,
  ContentType: string,
  ContentID: string,
  Size: integer,
  Checksums: object({ MD5: string, SHA1: string, SHA256: string }),
});

export const messageSchema = object({
  ID: string,
  MessageID: string,
  From: address,
  To: addresses,
  Cc: addresses,
  Bcc: addresses,
  ReplyTo: addresses,
  ReturnPath: string,
  Subject: string,
  ListUnsubscribe: object({ Header: string, Links: strings, Errors: string, HeaderPost: string }),
  Date: { type: 'string', format: 'date-time', description: 'The Date header, else when it was received' },
  Tags: strings,
  Username: string,
  Text: string,
  HTML: string,
  Size: integer,
  Inline: { type: 'array', items: attachment },
  Attachments: { type: 'array', items: attachment },
});

export const headersSchema = {
  type: 'object',
  additionalProperties: strings,
  description: 'Header names as Go canonicalizes them, each with every value',
} as const;

export const idParams = object({ id: { type: 'string', description: 'A message ID, or `latest`' } });
export const partParams = object({ id: string, partId: string });
export const thumbnailResponse = {
  description: 'The thumbnail',
  content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
} as const;
export const tagParams = object({ tag: string });

const start = { type: 'integer', minimum: 0, default: 0 } as const;
const limit = { type: 'integer', minimum: 0, default: 50, description: '0 = all' } as const;
const tz = { type: 'string', description: 'IANA time zone for before: and after:' } as const;
const query = { type: 'string', description: "Mailpit's search syntax, plus mailbox:ADDRESS" } as const;

export const listQuery = { type: 'object', properties: { start, limit } } as const;
export const searchQuery = { type: 'object', properties: { query, start, limit, tz }, required: ['query'] } as const;
export const deleteSearchQuery = { type: 'object', properties: { query, tz }, required: ['query'] } as const;
export const latestQuery = { type: 'object', properties: { query, tz } } as const;
export const rawQuery = { type: 'object', properties: { query, tz, dl: string } } as const;

export const setReadBody = {
  type: 'object',
  properties: { IDs: strings, Read: { type: 'boolean', default: false }, Search: string },
  description: 'IDs or Search, not both; neither means every message',
} as const;
export const deleteBody = { type: 'object', properties: { IDs: strings } } as const;
export const setTagsBody = { type: 'object', properties: { IDs: strings, Tags: strings }, required: ['IDs'] } as const;
export const renameTagBody = {
  type: 'object',
  properties: { Name: { type: 'string', minLength: 1 } },
  required: ['Name'],
} as const;

const sendAddress = {
  type: 'object',
  properties: { Email: string, Name: string },
  required: ['Email'],
} as const;
export const sendBody = {
  type: 'object',
  properties: {
    From: sendAddress,
    To: { type: 'array', items: sendAddress },
    Cc: { type: 'array', items: sendAddress },
    Bcc: strings,
    ReplyTo: { type: 'array', items: sendAddress },
    Subject: string,
    Text: string,
    HTML: string,
    Tags: strings,
    Headers: { type: 'object', additionalProperties: string },
    Attachments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          Content: { type: 'string', description: 'Base64; a `data:...,` prefix is allowed' },
          Filename: string,
          ContentType: string,
          ContentID: { type: 'string', description: 'When set, the part is attached inline' },
        },
        required: ['Content', 'Filename'],
      },
    },
  },
  required: ['From'],
} as const;
export const sendResponse = object({ ID: string });

export const releaseBody = {
  type: 'object',
  properties: { To: { ...strings, minItems: 1, description: 'The recipients to send it to' } },
  required: ['To'],
} as const;

const chaosTrigger = object({ ErrorCode: integer, Probability: { type: 'integer', minimum: 0, maximum: 100 } });
export const chaosTriggers = object({ Sender: chaosTrigger, Recipient: chaosTrigger, Authentication: chaosTrigger });
export const chaosTriggersBody = {
  type: 'object',
  properties: {
    Sender: { ...chaosTrigger, required: [] },
    Recipient: { ...chaosTrigger, required: [] },
    Authentication: { ...chaosTrigger, required: [] },
  },
} as const;

export const infoSchema = object({
  Version: string,
  LatestVersion: string,
  Database: string,
  DatabaseSize: integer,
  Messages: integer,
  Unread: integer,
  Tags: { type: 'object', additionalProperties: integer },
  RuntimeStats: object({
    Uptime: integer,
    MessagesDeleted: integer,
    SMTPAccepted: integer,
    SMTPAcceptedSize: integer,
    SMTPRejected: integer,
    SMTPIgnored: integer,
  }),
});

export const webUiSchema = object({
  Label: string,
  MessageRelay: object({
    Enabled: boolean,
    SMTPServer: string,
    ReturnPath: string,
    AllowedRecipients: string,
    BlockedRecipients: string,
    OverrideFrom: string,
    PreserveMessageIDs: boolean,
    RecipientAllowlist: string,
  }),
  SpamAssassin: boolean,
  ChaosEnabled: boolean,
  DuplicatesIgnored: boolean,
  HideDeleteAllButton: boolean,
});

export const mailboxesSchema = {
  type: 'array',
  items: object({
    Address: string,
    Messages: integer,
    Unread: integer,
    Folders: { type: 'array', items: object({ Name: string, Messages: integer, Unread: integer }) },
  }),
} as const;

// ---- ours: the test toolkit (`/api/tms`) ----

const nullable = (type: string) => ({ type: [type, 'null'] }) as const;
const headerAddress = object({ name: string, address: string });
const copyMeta = {
  id: { type: 'string', description: 'Names this stored copy in /api/tms/messages/{id}' },
  item: { type: 'string', description: 'The Mailpit/MailHog message ID: every copy of one SMTP transaction' },
  mailbox: { type: 'string', description: '`local@domain`: the mailbox this copy is stored in' },
  folder: { type: 'string', description: '`INBOX` for delivered mail' },
  number: { type: 'integer', description: 'The MH message number (file name) in its folder' },
  envelope: object({ from: string, to: strings }, 'The SMTP envelope: MAIL FROM and every RCPT TO'),
  receivedAt: { type: 'string', format: 'date-time' },
  size: { type: 'integer', description: 'Bytes as stored' },
} as const;

export const copyMetaSchema = object(copyMeta, 'One stored copy (one per recipient mailbox)');
export const copyListSchema = object({
  messages: { type: 'array', items: copyMetaSchema, description: 'Oldest first' },
});

export const parsedMessageSchema = object(
  {
    ...copyMeta,
    flags: object({
      seen: boolean,
      answered: boolean,
      flagged: boolean,
      deleted: boolean,
      draft: boolean,
      keywords: strings,
    }),
    raw: { type: 'string', contentEncoding: 'base64', description: 'The stored file, byte for byte' },
    headers: { type: 'object', additionalProperties: strings, description: 'By lowercase name, every value' },
    subject: string,
    from: { ...headerAddress, type: ['object', 'null'] },
    to: { type: 'array', items: headerAddress },
    cc: { type: 'array', items: headerAddress },
    replyTo: { type: 'array', items: headerAddress },
    messageId: nullable('string'),
    date: { type: ['string', 'null'], format: 'date-time' },
    text: nullable('string'),
    html: nullable('string'),
    attachments: {
      type: 'array',
      items: object({
        filename: nullable('string'),
        contentType: string,
        disposition: nullable('string'),
        contentId: nullable('string'),
        related: boolean,
        size: integer,
        content: { type: 'string', contentEncoding: 'base64' },
      }),
    },
    links: { ...strings, description: 'Every href of the HTML, then the http(s) URLs of the text, each once' },
  },
  'A stored copy parsed, as the test toolkit gives it',
);

const chaosRuleJson = {
  type: 'object',
  properties: {
    on: { type: 'string', enum: ['connect', 'helo', 'mail', 'rcpt', 'data'] },
    from: { type: 'string', description: 'A glob, or /regexp/flags' },
    to: { type: 'string', description: 'A glob, or /regexp/flags' },
    reply: object({ code: integer, text: string }),
    delayMs: integer,
    disconnect: boolean,
    times: integer,
    probability: { type: 'number' },
  },
  required: ['on'],
  additionalProperties: false,
} as const;

export const chaosRuleBody = object(
  {
    rule: {
      oneOf: [{ type: 'string', description: 'The text form, as --chaos takes it' }, chaosRuleJson],
    },
  },
  'A fault-injection rule: an object, or its text form',
);
export const chaosEntrySchema = object({
  id: integer,
  rule: chaosRuleJson,
  text: { type: 'string', description: 'The rule in its text form' },
  fired: integer,
  remaining: { type: ['integer', 'null'], description: 'Times left for a rule with times; null without' },
});
export const chaosListSchema = object({ rules: { type: 'array', items: chaosEntrySchema } });
export const chaosAddedSchema = object({ id: integer });
export const chaosRemovedSchema = object({ removed: boolean });
export const chaosIdParams = object({ id: { type: 'integer', minimum: 1 } });
export const emptySchema = object({});

// ---- MailHog ----

const mailhogPath = object({
  Relays: { type: ['array', 'null'], items: string },
  Mailbox: string,
  Domain: string,
  Params: string,
});
const mailhogHeaders = { type: 'object', additionalProperties: strings } as const;
/** MIME parts nest (a part can hold parts), which a flat schema cannot spell: left open. */
const mailhogMime = { type: ['object', 'null'], additionalProperties: true } as const;

export const mailhogMessageSchema = object({
  ID: string,
  From: mailhogPath,
  To: { type: 'array', items: mailhogPath },
  Content: object({ Headers: mailhogHeaders, Body: string, Size: integer, MIME: mailhogMime }),
  Created: { type: 'string', format: 'date-time' },
  MIME: mailhogMime,
  Raw: object({ From: string, To: strings, Data: string, Helo: string }),
});

export const mailhogMessagesSchema = object({
  total: integer,
  count: integer,
  start: integer,
  items: { type: 'array', items: mailhogMessageSchema },
});

export const mailhogReleaseBody = {
  type: 'object',
  properties: {
    Email: { type: 'string', description: 'The recipient' },
    Host: { type: 'string', description: 'Read, not used: the configured relay is' },
    Port: { type: 'string', description: 'Read, not used' },
    Name: string,
    Save: boolean,
    Username: string,
    Password: string,
    Mechanism: string,
  },
  required: ['Email'],
} as const;

export const mailhogListQuery = {
  type: 'object',
  properties: { start, limit: { type: 'integer', minimum: 1, maximum: 250, default: 50 } },
} as const;
export const mailhogSearchQuery = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['from', 'to', 'containing'] },
    query: { type: 'string', minLength: 1 },
    start,
    limit: { type: 'integer', minimum: 1, maximum: 250, default: 50 },
  },
  required: ['kind', 'query'],
} as const;

/** The error replies every route can give, for the OpenAPI document. */
export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  500: errorSchema,
} as const;
/** Releasing may also find the relay failing. */
export const releaseResponses = { ...errorResponses, 502: errorSchema } as const;

/**
 * Go's encoding/json matches object keys case-insensitively, and Mailpit's and MailHog's clients
 * rely on it (cypress-mailpit sends `FileName` for `Filename`): each key of `value` that matches a
 * property of `schema` but for case is renamed to it, at every depth the schema describes.
 */
export function canonicalKeys(schema: unknown, value: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || typeof value !== 'object' || value === null) return value;
  const { properties, items } = schema as { properties?: Record<string, unknown>; items?: unknown };
  if (Array.isArray(value)) return items === undefined ? value : value.map((item) => canonicalKeys(items, item));
  if (properties === undefined) return value;
  const names = new Map(Object.keys(properties).map((name) => [name.toLowerCase(), name]));
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = Object.hasOwn(properties, key) ? key : (names.get(key.toLowerCase()) ?? key);
    // An exact key wins over one that matches but for case, as in Go.
    if (Object.hasOwn(result, name) && name !== key) continue;
    Object.defineProperty(result, name, {
      value: canonicalKeys(properties[name], inner),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}
