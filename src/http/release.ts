/**
 * Releasing a stored message: sending it on to a real SMTP server (the configured relay), as
 * Mailpit's `POST /api/v1/message/{ID}/release` and MailHog's release do. What goes out is the
 * message as it came in plus our Received line: the Return-Path and Delivered-To lines that
 * final delivery added are not passed on (RFC 5321 §4.4). Only the configured relay is ever
 * contacted, and only for recipients its allow-list lets through: a request names recipients,
 * never a server.
 */
import { compilePattern } from '../chaos/rule.js';
import { mailParameters, SmtpClient, SmtpConnectionError, type SmtpReply } from '../sendmail/client.js';
import { hostPort } from '../listen.js';
import type { MailReader } from '../mailbox/reader.js';
import { withoutDeliveryLines } from '../mailbox/trace.js';
import { HttpError, notFound, relayNotEnabled } from './errors.js';
import { findItem } from './items.js';
import { parseRelayUrl } from './relay-url.js';
import { bareAddress } from './send.js';

export interface RelaySettings {
  /** `smtp://host:port` (port default 25). */
  readonly url: string;
  /** Globs (`*@example.test`) or `/regexp/flags` a recipient must match; empty: any recipient. */
  readonly allow?: readonly string[];
}

export class Relay {
  readonly host: string;
  readonly port: number;
  /** The allow-list as given, comma-separated (Mailpit's web UI setting shows it). */
  readonly allowList: string;
  private readonly allowed: Array<(address: string) => boolean>;

  constructor(
    settings: RelaySettings,
    /** Our name in EHLO. */
    private readonly heloName: string,
  ) {
    const target = parseRelayUrl(settings.url);
    this.host = target.host;
    this.port = target.port;
    this.allowed = (settings.allow ?? []).map(compilePattern);
    this.allowList = (settings.allow ?? []).join(', ');
  }

  get where(): string {
    return hostPort(this.host, this.port);
  }

  /** Refuses (400) recipients that are not addresses or that the allow-list does not let through. */
  checkRecipients(recipients: readonly string[]): string[] {
    const trimmed = recipients.map((address) => address.trim());
    if (trimmed.length === 0) throw new HttpError('TMS_BAD_REQUEST', 'No recipients to release the message to');
    for (const address of trimmed) {
      if (!bareAddress.test(address)) throw new HttpError('TMS_BAD_REQUEST', `invalid recipient: ${address}`);
      if (this.allowed.length > 0 && !this.allowed.some((allows) => allows(address)))
        throw new HttpError('TMS_RECIPIENT_NOT_ALLOWED', `${address} is not an allowed recipient of the relay`);
    }
    return trimmed;
  }

  /**
   * Sends `stored` (the file's bytes with CRLF line ends) from `sender` to `recipients` (as
   * `checkRecipients` gave them); resolves once the relay accepted it. A relay that cannot be
   * reached or refuses is a 502.
   */
  async release(stored: Buffer, sender: string, recipients: readonly string[]): Promise<void> {
    try {
      await this.send(withoutDeliveryLines(stored), sender, recipients);
    } catch (error) {
      if (error instanceof SmtpConnectionError)
        throw new HttpError('TMS_RELAY_FAILED', `The relay ${this.where} failed: ${error.message}`);
      throw error;
    }
  }

  private async send(message: Buffer, sender: string, recipients: readonly string[]): Promise<void> {
    const client = await SmtpClient.connect({ host: this.host, port: this.port, replyTimeoutMs: 60_000 });
    try {
      expect(await client.reply('the greeting'), 220, 'the connection');
      const { reply: hello, extensions } = await client.hello(this.heloName);
      expect(hello, 250, 'HELO');
      const parameters = mailParameters(extensions, {
        eightBit: message.some((byte) => byte > 0x7f),
        addresses: [sender, ...recipients],
      });
      expect(await client.command(`MAIL FROM:<${sender}>${parameters}`), 250, 'MAIL');
      for (const recipient of recipients)
        expect(await client.command(`RCPT TO:<${recipient}>`), [250, 251], `RCPT TO:<${recipient}>`);
      expect(await client.command('DATA'), 354, 'DATA');
      expect(await client.sendData(dataPayload(message)), 250, 'the message');
    } finally {
      await client.quit();
    }
  }
}

/** Releases an item (its first copy's bytes and envelope sender) through the relay; throws a 4xx/5xx HttpError. */
export async function releaseItem(
  { reader, relay }: { readonly reader: MailReader; readonly relay?: Relay },
  id: string,
  recipients: readonly string[],
): Promise<void> {
  if (relay === undefined) throw relayNotEnabled();
  const to = relay.checkRecipients(recipients);
  const item = findItem(reader, id);
  if (item === undefined) throw notFound();
  const [first] = item.copies;
  const raw = await reader.read(first, { crlf: true });
  if (raw === undefined) throw notFound();
  await relay.release(raw, first.envelope.from, to);
}

function expect(reply: SmtpReply, codes: number | readonly number[], what: string): SmtpReply {
  if ((typeof codes === 'number' ? [codes] : codes).includes(reply.code)) return reply;
  throw new SmtpConnectionError(`it refused ${what}: ${reply.lines.join(' / ')}`, 'protocol');
}

/** Lines starting with "." get another, the message ends with CRLF, then the final ".". */
function dataPayload(message: Buffer): Buffer {
  const text = message.toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${text}${text.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}
