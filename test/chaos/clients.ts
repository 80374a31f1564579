/** Real SMTP clients for the chaos tests, reduced to what the client saw: codes and texts. */
import nodemailer from 'nodemailer';
import { python } from '../helpers.js';

export interface NodemailerOutcome {
  ok: boolean;
  accepted?: string[];
  rejected?: string[];
  /** For each rejected recipient: the full reply line. */
  rejectedResponses?: string[];
  /** On failure: nodemailer's error code (EENVELOPE, EMESSAGE, EPROTOCOL, ECONNECTION, ...). */
  code?: string;
  responseCode?: number;
  /** On failure: the full reply line, e.g. `550 5.1.1 no such user`. */
  response?: string;
  command?: string;
}

/** Sends one message with nodemailer; never throws for SMTP failures. */
export async function nodemailerSend(
  port: number,
  from: string,
  to: string[],
  subject = 'chaos test',
): Promise<NodemailerOutcome> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  });
  try {
    const info = await transport.sendMail({ from, to, subject, text: 'Hello from nodemailer\n' });
    const rejectedErrors = (info as { rejectedErrors?: Array<{ response?: string }> }).rejectedErrors ?? [];
    return {
      ok: true,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      rejectedResponses: rejectedErrors.map((error) => error.response ?? ''),
    };
  } catch (caught) {
    const error = caught as { code?: string; responseCode?: number; response?: string; command?: string };
    return {
      ok: false,
      code: error.code,
      responseCode: error.responseCode,
      response: error.response,
      command: error.command,
    };
  } finally {
    transport.close();
  }
}

export interface PythonOutcome {
  /** Recipients refused while the message still went to others: address -> [code, text]. */
  refused?: Record<string, [number, string]>;
  /** The smtplib exception class, when sending failed. */
  error?: string;
  code?: number;
  text?: string;
  /** Seconds from before connecting until the greeting was read. */
  greetingSeconds?: number;
}

const smtplibScript = String.raw`
import json, smtplib, sys, time
port, sender, recipients = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
message = 'Subject: chaos test\r\nFrom: ' + sender + '\r\n\r\nHello from smtplib\r\n'
decode = lambda refused: {k: [v[0], v[1].decode()] for k, v in refused.items()}
result = {}
try:
    started = time.monotonic()
    client = smtplib.SMTP('127.0.0.1', port, timeout=10)
    result['greetingSeconds'] = time.monotonic() - started
    result['refused'] = decode(client.sendmail(sender, recipients, message))
    client.quit()
except smtplib.SMTPRecipientsRefused as e:
    result.update(error='SMTPRecipientsRefused', refused=decode(e.recipients))
except smtplib.SMTPResponseException as e:
    result.update(error=type(e).__name__, code=e.smtp_code, text=e.smtp_error.decode())
except smtplib.SMTPServerDisconnected as e:
    result.update(error='SMTPServerDisconnected')
print(json.dumps(result))
`;

/** Sends one message with Python's smtplib; never throws for SMTP failures. */
export async function smtplibSend(port: number, from: string, to: string[]): Promise<PythonOutcome> {
  return JSON.parse(await python(smtplibScript, [String(port), from, JSON.stringify(to)])) as PythonOutcome;
}
