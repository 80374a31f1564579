/** The `sendmail` subcommand: a drop-in for apps that pipe mail to a sendmail binary. */
export { exitCodes, parseSendmailArgs, parseSmtpAddress, SendmailUsageError, type SendmailArgs } from './args.js';
export { SmtpClient, SmtpConnectionError, type SmtpReply } from './client.js';
export { dataPayload, parseAddresses, prepareMessage, readMessageLines, type PreparedMessage } from './message.js';
export { runSendmail, sendmailHelp, type SendmailIo } from './main.js';
