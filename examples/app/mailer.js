// Stands for your application: it sends mail through the SMTP server named by SMTP_URL,
// as an app configured by its environment would. Nothing in it knows about tests.
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';

export async function sendWelcomeEmail(to, name) {
  const transport = nodemailer.createTransport(process.env.SMTP_URL);
  const link = `https://acme.test/confirm?token=${randomBytes(8).toString('hex')}`;
  try {
    await transport.sendMail({
      from: 'Acme <no-reply@acme.test>',
      to: `${name} <${to}>`,
      subject: `Welcome to Acme, ${name}!`,
      text: `Hi ${name},\n\nPlease confirm your address: ${link}\n`,
      html: `<p>Hi ${name},</p><p><a href="${link}">Confirm your address</a></p>`,
    });
  } finally {
    transport.close();
  }
}
