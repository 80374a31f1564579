/**
 * A message's summary for lists and search (see `MessageSummary`), from its bytes. Parsing is
 * postal-mime's, loaded on first use; this module only picks and shapes what a list shows.
 */
import type { Address, Email } from 'postal-mime';
import type { HeaderAddress, MessageSummary } from './reader.js';

/** Characters of a snippet before it is cut (Mailpit cuts at 200 and adds "..."). */
const snippetLength = 200;
/** Body text kept for searching: enough for any test's mail, bounded for a huge one. */
const searchBodyLength = 256 * 1024;

export async function summarize(raw: Uint8Array): Promise<MessageSummary> {
  const { default: PostalMime } = await import('postal-mime');
  // Attachment contents are not needed: left undecoded text is the cheapest form postal-mime offers.
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'base64' });
  const inline = email.attachments.filter(
    (part) => part.contentId !== undefined && part.disposition !== 'attachment',
  ).length;
  const text = collapse(email.text ?? '');
  const summary = {
    from: headerAddresses(email.from === undefined ? [] : [email.from])[0],
    to: headerAddresses(email.to),
    cc: headerAddresses(email.cc),
    bcc: headerAddresses(email.bcc),
    replyTo: headerAddresses(email.replyTo),
    subject: email.subject ?? '',
    date: validDate(email.date),
    messageId: (email.messageId ?? '').trim().replace(/^<(.*)>$/, '$1'),
    attachments: email.attachments.length - inline,
    inline,
  };
  return {
    ...summary,
    snippet: text.length > snippetLength ? `${[...text].slice(0, snippetLength).join('').trimEnd()}...` : text,
    searchText: searchText(email, summary.subject, text),
  };
}

function searchText(email: Email, subject: string, text: string): string {
  const addresses = [
    email.from,
    ...(email.to ?? []),
    ...(email.cc ?? []),
    ...(email.bcc ?? []),
    ...(email.replyTo ?? []),
  ];
  const names = headerAddresses(addresses.filter((address): address is Address => address !== undefined)).map(
    ({ name, address }) => `${name} ${address}`,
  );
  const parts = [...names, email.returnPath ?? '', subject, text.slice(0, searchBodyLength)];
  // As Mailpit's cleanString: address punctuation becomes space, so `<a@b>` matches `a@b`.
  return collapse(parts.join(' ').replace(/[<>",;()]/g, ' ')).toLowerCase();
}

/** postal-mime's addresses with groups flattened into their members. */
export function headerAddresses(addresses: readonly Address[] | undefined): HeaderAddress[] {
  const flat: HeaderAddress[] = [];
  for (const entry of addresses ?? []) {
    if (entry.group !== undefined)
      for (const member of entry.group) flat.push({ name: member.name, address: member.address });
    else flat.push({ name: entry.name, address: entry.address });
  }
  return flat;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A Date header's value as a Date; undefined when missing or unparseable. */
export function validDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}
