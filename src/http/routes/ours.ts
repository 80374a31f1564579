/** Our own routes, beyond Mailpit and MailHog: the mailboxes, each with its folders. */
import type { FastifyInstance } from 'fastify';
import * as schemas from '../schemas.js';
import type { HttpContext } from '../server.js';

export function registerOwnRoutes(app: FastifyInstance, { options }: HttpContext): void {
  const { reader } = options;
  app.get(
    '/api/v1/mailboxes',
    {
      schema: {
        tags: ['test-mail-server'],
        summary: 'Every mailbox (an address) with its folders, message and unread counts',
        response: { 200: schemas.mailboxesSchema },
      },
    },
    () =>
      reader.mailboxes().map((mailbox) => {
        const folders = reader.folders(mailbox);
        return {
          Address: mailbox,
          Messages: folders.reduce((sum, folder) => sum + folder.messages, 0),
          Unread: folders.reduce((sum, folder) => sum + folder.unseen, 0),
          Folders: folders.map((folder) => ({ Name: folder.folder, Messages: folder.messages, Unread: folder.unseen })),
        };
      }),
  );
}
