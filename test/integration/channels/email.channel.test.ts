import net from 'node:net';
import { createEmailChannel, type EmailChannel, type OutgoingEmail } from '../../../src/channels/email.channel';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';

function email(n: number, to = 'ann@example.com'): OutgoingEmail {
  return {
    to,
    replyTo: 'Sam Shaw <sam@shop.example>',
    subject: `Thank you (${n})`,
    text: 'Dear Ann,\n\nThank you.\n',
    html: '<p>Dear Ann,</p><p>Thank you.</p>',
    messageId: `<touch-${n}@shop.example>`,
    headers: {
      'List-Unsubscribe': '<https://shop.example/u/t0k>, <mailto:unsubscribe@shop.example?subject=t0k>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  };
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('email channel over SMTP', () => {
  let smtp: TestSmtpServer;
  let channel: EmailChannel;

  beforeEach(async () => {
    smtp = await startSmtpServer();
    channel = createEmailChannel({
      smtpUrl: smtp.url,
      outboxDir: 'unused',
      from: 'Example Furniture <hello@shop.example>',
    });
  });
  afterEach(async () => {
    await channel.close();
    await smtp.close();
  });

  it('delivers with Message-ID, Reply-To and the RFC 8058 one-click unsubscribe headers', async () => {
    expect(channel.describe()).toBe(`smtp ${smtp.url} (pooled)`);
    const result = await channel.send(email(1));
    expect(result).toMatchObject({ ok: true, messageId: '<touch-1@shop.example>' });
    if (result.ok) expect(result.response).toMatch(/^250/);

    const [received] = await smtp.waitForMessages(1);
    expect(received.envelope).toEqual({ from: 'hello@shop.example', to: ['ann@example.com'] });
    expect(received.messageId).toBe('<touch-1@shop.example>');
    expect(received.replyTo?.value[0]).toMatchObject({ name: 'Sam Shaw', address: 'sam@shop.example' });
    expect(received.subject).toBe('Thank you (1)');
    expect(received.text).toContain('Thank you.');
    expect(received.html).toContain('<p>Thank you.</p>');
    // Long headers arrive folded over several lines; unfolding gives back the value as set.
    const headers = received.rawHeaders.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
    expect(headers).toContain(
      'List-Unsubscribe: <https://shop.example/u/t0k>, <mailto:unsubscribe@shop.example?subject=t0k>',
    );
    expect(headers).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(headers).toContain('Message-ID: <touch-1@shop.example>');
  });

  it('sends many messages concurrently through the pool', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => channel.send(email(i))));
    expect(results.every((r) => r.ok)).toBe(true);
    const received = await smtp.waitForMessages(12);
    expect(new Set(received.map((m) => m.messageId)).size).toBe(12);
  });

  it('returns a transient failure for 451 on DATA, then succeeds when the server accepts', async () => {
    smtp.respondWith((e) => (e.stage === 'data' && e.attempt === 1 ? { code: 451, message: 'Try again later' } : null));
    expect(await channel.send(email(2))).toEqual({
      ok: false,
      permanent: false,
      code: 451,
      reason: expect.stringContaining('451'),
    });
    expect(smtp.messages).toHaveLength(0);
    expect(await channel.send(email(2))).toMatchObject({ ok: true });
    expect(smtp.refusals).toEqual([{ stage: 'data', to: ['ann@example.com'], code: 451 }]);
    await smtp.waitForMessages(1);
  });

  it('returns a permanent failure for 550 on RCPT for one address, and keeps delivering to others', async () => {
    smtp.respondWith((e) =>
      e.stage === 'rcpt' && e.to === 'gone@example.com' ? { code: 550, message: 'No such user' } : null,
    );
    const refused = await channel.send(email(3, 'gone@example.com'));
    expect(refused).toEqual({ ok: false, permanent: true, code: 550, reason: expect.stringContaining('No such user') });
    expect(await channel.send(email(4))).toMatchObject({ ok: true });
    const [received] = await smtp.waitForMessages(1);
    expect(received.messageId).toBe('<touch-4@shop.example>');
  });

  it('returns a permanent failure for 554 on DATA', async () => {
    smtp.respondWith((e) => (e.stage === 'data' ? { code: 554, message: 'Message rejected' } : null));
    expect(await channel.send(email(5))).toMatchObject({ ok: false, permanent: true, code: 554 });
  });
});

describe('email channel without a reachable server', () => {
  it('returns a transient failure when the connection is refused', async () => {
    const channel = createEmailChannel({
      smtpUrl: `smtp://127.0.0.1:${await closedPort()}`,
      outboxDir: 'unused',
      from: 'hello@shop.example',
    });
    const result = await channel.send(email(6));
    await channel.close();
    expect(result).toMatchObject({ ok: false, permanent: false });
    if (!result.ok) expect(result.code).toBeUndefined();
  });

  it('works without pooling too', async () => {
    const smtp = await startSmtpServer();
    const channel = createEmailChannel({
      smtpUrl: smtp.url,
      outboxDir: 'unused',
      from: 'hello@shop.example',
      pool: false,
    });
    expect(channel.describe()).toBe(`smtp ${smtp.url}`);
    expect(await channel.send(email(7))).toMatchObject({ ok: true });
    await channel.close();
    await smtp.close();
  });
});

describe('test SMTP server', () => {
  it('times out waitForMessages with a clear message', async () => {
    const smtp = await startSmtpServer();
    await expect(smtp.waitForMessages(1, 100)).rejects.toThrow(/waiting for 1 message\(s\), got 0/);
    await smtp.close();
  });

  it('counts attempts per recipient and forgets them on reset', async () => {
    const smtp = await startSmtpServer({
      respond: (e) => (e.stage === 'rcpt' && e.attempt <= 2 ? { code: 452, message: 'busy' } : null),
    });
    const channel = createEmailChannel({ smtpUrl: smtp.url, outboxDir: 'unused', from: 'hello@shop.example' });
    expect(await channel.send(email(8))).toMatchObject({ ok: false, permanent: false, code: 452 });
    expect(await channel.send(email(8))).toMatchObject({ ok: false, code: 452 });
    expect(await channel.send(email(8))).toMatchObject({ ok: true });
    smtp.reset();
    expect(smtp.messages).toHaveLength(0);
    expect(await channel.send(email(9))).toMatchObject({ ok: true });
    await channel.close();
    await smtp.close();
  });
});
