/**
 * The SMTP channel really pools: emails share a few connections instead of opening one each (the pool was lost once,
 * when nodemailer dropped every option given with a URL). Per-message speed is for bench/dispatch, not a test.
 */
import { SMTPServer } from 'smtp-server';
import { createEmailChannel, smtpServerOptions } from '../../../src/channels/email.channel';

it('sends 40 emails over at most 5 connections', async () => {
  let connections = 0;
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onConnect: (_session, done) => {
      connections++;
      done();
    },
    onData: (stream, _session, done) => {
      stream.resume();
      stream.on('end', () => {
        received++;
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  const channel = createEmailChannel({
    smtpUrl: `smtp://127.0.0.1:${port}`,
    outboxDir: '/tmp/unused',
    from: 'Shop <hello@shop.test>',
  });
  try {
    for (let i = 0; i < 10; i++) {
      const r = await channel.send({
        to: `c${i}@example.com`,
        subject: 'Hi',
        text: 'x'.repeat(2000),
        html: '<p>x</p>',
        messageId: `<seq-${i}@shop.test>`,
      });
      expect(r.ok).toBe(true);
    }
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        channel.send({
          to: `p${i}@example.com`,
          subject: 'Hi',
          text: 'x',
          html: '<p>x</p>',
          messageId: `<par-${i}@shop.test>`,
        }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(received).toBe(40);
    expect(connections).toBeLessThanOrEqual(5);
  } finally {
    await channel.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

it('reads host, port, TLS and credentials from the SMTP URL', () => {
  expect(smtpServerOptions('smtp://mail.example:2525')).toEqual({ host: 'mail.example', port: 2525, secure: false });
  expect(smtpServerOptions('smtps://user%40shop:p%3Ass@mail.example')).toEqual({
    host: 'mail.example',
    port: 465,
    secure: true,
    auth: { user: 'user@shop', pass: 'p:ss' },
  });
  expect(smtpServerOptions('smtp://mail.example')).toMatchObject({ port: 587 });
});
