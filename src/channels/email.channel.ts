/**
 * The email channel: the only module that imports nodemailer. It sends through a pooled SMTP transport, or, when no
 * SMTP server is configured, writes each message as an .eml file to an outbox directory (development, demos).
 * Expected failures (a refused recipient, a server that says "try later", a connection that fails) are returned as
 * a SendResult value; an exception from `send` means a bug.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Logger } from '../logger';

/** OutgoingEmail is one fully rendered email to one recipient. */
export interface OutgoingEmail {
  /** The From header; absent: the channel's default (EmailChannelOptions.from). */
  from?: string;
  to: string;
  replyTo?: string;
  subject: string;
  text: string;
  html: string;
  /** A stable id chosen by the caller, such as `<touchId@host>`, so a resend carries the same Message-ID. */
  messageId: string;
  /** Extra headers, e.g. List-Unsubscribe and List-Unsubscribe-Post (RFC 8058). */
  headers?: Record<string, string>;
}

/** SendResult is the outcome of one send: accepted, or refused permanently (do not retry) or transiently (retry). */
export type SendResult =
  { ok: true; messageId: string; response: string } | { ok: false; permanent: boolean; reason: string; code?: number };

/** EmailChannel delivers emails; `close` releases its connections; `describe` names where mail goes, without secrets. */
export interface EmailChannel {
  send(msg: OutgoingEmail): Promise<SendResult>;
  close(): Promise<void>;
  describe(): string;
}

/** EmailChannelOptions configure one channel; the composition root builds them from Config. */
export interface EmailChannelOptions {
  smtpUrl: string | null;
  outboxDir: string;
  /** The From header, e.g. `Shop <hello@shop.example>`. */
  from: string;
  /** Pool SMTP connections (default true); a pool reuses connections across sends. */
  pool?: boolean;
  maxConnections?: number;
  /**
   * Refuse to send over smtp:// unless the server upgrades to TLS (STARTTLS): the messages carry customer links and
   * the URL's password. Off only when the configuration explicitly allows plain text (SMTP_ALLOW_PLAINTEXT).
   */
  requireTls?: boolean;
  /** Connection, greeting and socket timeouts in ms (default 10 s, 10 s, 60 s). */
  timeouts?: { connectionMs?: number; greetingMs?: number; socketMs?: number };
  log?: Logger;
  /** Names outbox files; defaults to the system clock. */
  clock?: Clock;
}

/** SmtpLikeError is the subset of a nodemailer error the classification reads. */
interface SmtpLikeError {
  message?: string;
  code?: string;
  responseCode?: number;
  response?: string;
}

// Errors about our own setup (wrong credentials, TLS) are not the message's fault: retrying after a fix must work.
const SETUP_ERROR_CODES = new Set(['EAUTH', 'ETLS', 'ENOAUTH', 'EOAUTH2', 'ECONFIG']);

/**
 * classifySendError maps a transport error to a refusal: SMTP 5xx is permanent, 4xx transient, and connection
 * problems (refused, reset, timed out, DNS) or our own setup errors are transient.
 */
export function classifySendError(err: unknown): Extract<SendResult, { ok: false }> {
  const e = (err ?? {}) as SmtpLikeError;
  const reason = (e.response || e.message || String(err)).trim();
  const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  if (e.code && SETUP_ERROR_CODES.has(e.code)) return { ok: false, permanent: false, reason, code };
  if (code !== undefined) return { ok: false, permanent: code >= 500, reason, code };
  // An envelope nodemailer refuses before talking to the server (no or malformed recipient) will never succeed.
  if (e.code === 'EENVELOPE') return { ok: false, permanent: true, reason };
  return { ok: false, permanent: false, reason };
}

/** safeFileName keeps letters, digits, dots, dashes and underscores of a Message-ID, so it is safe as a file name. */
export function safeFileName(id: string): string {
  const cleaned = id
    .replace(/^<|>$/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^\.+/, '');
  return cleaned.slice(0, 120) || 'message';
}

/** describeSmtpUrl shows scheme, host and port of an SMTP URL and never its credentials. */
export function describeSmtpUrl(smtpUrl: string): string {
  try {
    const u = new URL(smtpUrl);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
  } catch {
    return 'smtp (unparseable URL)';
  }
}

/** envelopeFrom is the bare address of a From header ("Shop <a@b>" -> "a@b"), for the SMTP envelope. */
function envelopeFrom(from: string): string {
  return /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from;
}

function mailOptions(from: string, msg: OutgoingEmail): nodemailer.SendMailOptions {
  return {
    from: msg.from ?? from,
    to: msg.to,
    replyTo: msg.replyTo,
    subject: msg.subject,
    text: msg.text,
    html: msg.html,
    messageId: msg.messageId,
    headers: msg.headers,
  };
}

/** smtpServerOptions turns smtp://user:pass@host:port (or smtps://) into nodemailer's connection options. */
export function smtpServerOptions(smtpUrl: string): {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
} {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  const auth = url.username
    ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
    : undefined;
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(auth ? { auth } : {}),
  };
}

type SocketCallback = (err: Error | null, socketOptions?: { connection: Socket }) => void;

/**
 * connectWithoutNagle opens each SMTP connection with Nagle's algorithm off. With it on, the last small write of
 * every message waits for the server's delayed ACK (~40 ms), which capped a pooled connection near 20 emails/s.
 * TLS (smtps, STARTTLS) is still negotiated by nodemailer over this socket.
 */
function connectWithoutNagle(timeoutMs: number) {
  return (options: { host?: string; port?: number }, callback: SocketCallback): void => {
    const socket = netConnect({ host: options.host ?? 'localhost', port: options.port ?? 25, noDelay: true });
    const fail = (err: Error) => {
      socket.destroy();
      callback(Object.assign(err, { code: (err as { code?: string }).code ?? 'ECONNECTION' }));
    };
    socket.setTimeout(timeoutMs, () => fail(Object.assign(new Error('Connection timeout'), { code: 'ETIMEDOUT' })));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', fail);
      callback(null, { connection: socket });
    });
  };
}

/**
 * composeMessage builds the whole MIME message in memory. Streamed straight to the socket, nodemailer writes every
 * header line and encoded body line as its own small packet (Nagle is off), one system call and one wake-up of the
 * server each; sent as one buffer, a message is a single write.
 */
function composeMessage(from: string, msg: OutgoingEmail): Promise<Buffer> {
  return new MailComposer(mailOptions(from, msg)).compile().build();
}

function createSmtpChannel(opts: EmailChannelOptions & { smtpUrl: string }): EmailChannel {
  const pooled = opts.pool ?? true;
  const t = opts.timeouts ?? {};
  const common = {
    connectionTimeout: t.connectionMs ?? 10_000,
    greetingTimeout: t.greetingMs ?? 10_000,
    socketTimeout: t.socketMs ?? 60_000,
    getSocket: connectWithoutNagle(t.connectionMs ?? 10_000),
  };
  // The URL is parsed here: given a `url`, nodemailer's createTransport keeps only what the URL says and drops every
  // other option (the pool, the timeouts, the socket hook), so each email used to open its own connection.
  const server = { ...smtpServerOptions(opts.smtpUrl), requireTLS: Boolean(opts.requireTls) };
  const transport: Transporter = pooled
    ? nodemailer.createTransport({
        ...server,
        pool: true,
        maxConnections: opts.maxConnections ?? 5,
        ...common,
      } as never)
    : nodemailer.createTransport({ ...server, ...common } as never);
  const where = `${describeSmtpUrl(opts.smtpUrl)}${pooled ? ' (pooled)' : ''}`;
  return {
    async send(msg) {
      try {
        const raw = await composeMessage(opts.from, msg);
        const info = await transport.sendMail({
          envelope: { from: envelopeFrom(msg.from ?? opts.from), to: msg.to },
          raw,
        });
        return { ok: true, messageId: msg.messageId, response: String(info.response ?? '') };
      } catch (err) {
        const result = classifySendError(err);
        // The recipient address stays out of the log: the Message-ID is enough to find the touch.
        opts.log?.warn(
          { messageId: msg.messageId, code: result.code, permanent: result.permanent, reason: result.reason },
          'email refused',
        );
        return result;
      }
    },
    async close() {
      transport.close();
    },
    describe: () => `smtp ${where}`,
  };
}

function createOutboxChannel(opts: EmailChannelOptions): EmailChannel {
  const clock = opts.clock ?? systemClock;
  const dir = path.resolve(opts.outboxDir);
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(msg) {
      const stamp = clock.now().toISOString().replace(/[-:]/g, '').replace('.', '');
      const file = path.join(dir, `${stamp}-${safeFileName(msg.messageId)}.eml`);
      try {
        const info = await transport.sendMail(mailOptions(opts.from, msg));
        await mkdir(dir, { recursive: true });
        await writeFile(file, info.message as Buffer);
        return { ok: true, messageId: info.messageId, response: `written to ${file}` };
      } catch (err) {
        // A full disk or a read-only directory may pass; the message itself is not at fault.
        const reason = `outbox write failed: ${(err as Error).message}`;
        opts.log?.error({ err, messageId: msg.messageId }, 'outbox write failed');
        return { ok: false, permanent: false, reason };
      }
    },
    async close() {
      transport.close();
    },
    describe: () => `outbox ${dir}`,
  };
}

/**
 * eraseOutboxMessages deletes the outbox files of these ids' messages (a file is named after its Message-ID, which
 * holds the touch id); a missing directory is nothing to erase.
 */
export async function eraseOutboxMessages(outboxDir: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const dir = path.resolve(outboxDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const wanted = ids.map(safeFileName);
  const doomed = names.filter((n) => n.endsWith('.eml') && wanted.some((id) => n.includes(id)));
  await Promise.all(doomed.map((n) => rm(path.join(dir, n), { force: true })));
  return doomed.length;
}

/** createEmailChannel returns an SMTP channel when `smtpUrl` is set, else one that writes .eml files to `outboxDir`. */
export function createEmailChannel(opts: EmailChannelOptions): EmailChannel {
  return opts.smtpUrl ? createSmtpChannel({ ...opts, smtpUrl: opts.smtpUrl }) : createOutboxChannel(opts);
}
