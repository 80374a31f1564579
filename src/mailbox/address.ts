/**
 * Envelope address -> mailbox identity, with the rules that keep every folder inside MAIL_DIR.
 * A mailbox is `local@domain` with the domain lowercased and the local part kept as given
 * (RFC 5321 §2.4: only the domain is case-insensitive).
 */

export interface MailboxName {
  /** `local@domain`, the key every reader uses. */
  readonly address: string;
  readonly local: string;
  readonly domain: string;
}

export type AddressCheck = { ok: true; mailbox: MailboxName } | { ok: false; reason: string };

/** Folder names are file names: 255 bytes is the limit of every common Linux file system. */
const maxComponentBytes = 255;
const forbidden = /[\u0000-\u001f\u007f/\\]/;
/**
 * Characters that hide or reorder what a folder name shows (U+202E makes `moc.evil` read as
 * `live.com`): every control and format character (bidi controls, zero-width spaces and
 * joiners, U+FEFF), and U+FFFD or a lone surrogate, which mean bad UTF-8 reached us.
 */
const invisible = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029\uFFFD]/u;

/**
 * Validates an address as it appears between `<` and `>` (source routes already removed,
 * quoted local parts already unquoted).
 */
export function toMailbox(address: string): AddressCheck {
  const at = address.lastIndexOf('@');
  if (at < 0) return { ok: false, reason: 'address has no domain' };
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  if (local === '') return { ok: false, reason: 'empty local part' };
  if (domain === '') return { ok: false, reason: 'empty domain' };
  const localProblem = componentProblem(local, 'local part');
  if (localProblem) return { ok: false, reason: localProblem };
  const domainProblem = componentProblem(domain, 'domain');
  if (domainProblem) return { ok: false, reason: domainProblem };
  // A domain never starts with a dot; refusing it also keeps the store's own dot-folders private.
  if (domain.startsWith('.')) return { ok: false, reason: 'domain starts with a dot' };
  return { ok: true, mailbox: { address: `${local}@${domain}`, local, domain } };
}

export function componentProblem(value: string, what: string): string | undefined {
  if (value === '.' || value === '..') return `${what} "${value}" is not a folder name`;
  if (forbidden.test(value)) return `${what} contains "/", "\\" or a control character`;
  const hidden = invisible.exec(value);
  if (hidden) {
    const code = hidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `${what} contains U+${code}, an invisible, bidirectional or replacement character`;
  }
  if (Buffer.byteLength(value) > maxComponentBytes) return `${what} longer than ${maxComponentBytes} bytes`;
  return undefined;
}
