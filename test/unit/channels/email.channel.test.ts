import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { fixedClock } from '../../../src/clock';
import {
  classifySendError,
  createEmailChannel,
  describeSmtpUrl,
  safeFileName,
  type OutgoingEmail,
} from '../../../src/channels/email.channel';

const message: OutgoingEmail = {
  to: 'Ann Lee <ann@example.com>',
  replyTo: 'sam@shop.example',
  subject: 'Thank you, Ann',
  text: 'Dear Ann,\n\nThank you.\n',
  html: '<p>Dear Ann,</p><p>Thank you.</p>',
  messageId: '<touch-42@shop.example>',
  headers: {
    'List-Unsubscribe': '<https://shop.example/u/t0k>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  },
};

describe('classifySendError', () => {
  it('treats SMTP 5xx as permanent and 4xx as transient, keeping the code', () => {
    expect(classifySendError({ code: 'EENVELOPE', responseCode: 550, response: '550 no such user' })).toEqual({
      ok: false,
      permanent: true,
      reason: '550 no such user',
      code: 550,
    });
    expect(classifySendError({ code: 'EMESSAGE', responseCode: 451, response: '451 try later' })).toEqual({
      ok: false,
      permanent: false,
      reason: '451 try later',
      code: 451,
    });
  });

  it('treats connection problems and unknown errors as transient', () => {
    expect(classifySendError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ESOCKET' })).permanent).toBe(
      false,
    );
    expect(classifySendError(Object.assign(new Error('Connection timeout'), { code: 'ETIMEDOUT' })).permanent).toBe(
      false,
    );
    expect(classifySendError(new Error('something odd')).permanent).toBe(false);
  });

  it('treats our own authentication failure as transient even with a 5xx code: the message is not at fault', () => {
    expect(classifySendError({ code: 'EAUTH', responseCode: 535, response: '535 bad credentials' }).permanent).toBe(
      false,
    );
  });

  it('treats an envelope refused before reaching the server as permanent', () => {
    expect(classifySendError({ code: 'EENVELOPE', message: 'No recipients defined' }).permanent).toBe(true);
  });
});

describe('safeFileName and describeSmtpUrl', () => {
  it('keeps a Message-ID safe as a file name', () => {
    expect(safeFileName('<touch-42@shop.example>')).toBe('touch-42_shop.example');
    expect(safeFileName('<../../etc/passwd>')).toBe('_.._etc_passwd');
    expect(safeFileName('<>')).toBe('message');
  });

  it('never shows credentials', () => {
    expect(describeSmtpUrl('smtp://user:secret@mail.example:2525')).toBe('smtp://mail.example:2525');
  });
});

describe('outbox mode (no SMTP server)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'rapport-outbox-')), 'nested', 'outbox');
  });
  afterEach(async () => {
    await rm(path.dirname(path.dirname(dir)), { recursive: true, force: true });
  });

  it('creates the directory and writes a parseable .eml named by time and Message-ID', async () => {
    const clock = fixedClock(new Date('2026-11-22T09:30:00.123Z'));
    const channel = createEmailChannel({
      smtpUrl: null,
      outboxDir: dir,
      from: 'Example Furniture <hello@shop.example>',
      clock,
    });
    expect(channel.describe()).toBe(`outbox ${dir}`);
    const result = await channel.send(message);
    await channel.close();
    expect(result).toMatchObject({ ok: true, messageId: '<touch-42@shop.example>' });

    const files = await readdir(dir);
    expect(files).toEqual(['20261122T093000123Z-touch-42_shop.example.eml']);
    const parsed = await simpleParser(await readFile(path.join(dir, files[0])));
    expect(parsed.messageId).toBe('<touch-42@shop.example>');
    expect(parsed.subject).toBe('Thank you, Ann');
    expect(parsed.text).toContain('Thank you.');
    expect(parsed.html).toContain('<p>Thank you.</p>');
    expect(parsed.replyTo?.text).toBe('sam@shop.example');
    // mailparser folds List-* headers into a structured "list" entry, so the raw header lines are checked instead.
    const lines = parsed.headerLines.map((h) => h.line);
    expect(lines).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(lines).toContain('List-Unsubscribe: <https://shop.example/u/t0k>');
  });

  it('returns a transient failure, not an exception, when the outbox cannot be written', async () => {
    // A file where the outbox's parent directory should be makes mkdir fail with ENOTDIR.
    const parent = path.dirname(path.dirname(dir));
    await writeFile(path.join(parent, 'not-a-dir'), '');
    const blocker = path.join(parent, 'not-a-dir', 'outbox');
    const channel = createEmailChannel({ smtpUrl: null, outboxDir: blocker, from: 'hello@shop.example' });
    const result = await channel.send(message);
    await channel.close();
    expect(result).toMatchObject({ ok: false, permanent: false });
  });
});
