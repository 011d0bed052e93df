/**
 * An in-process SMTP server for tests: it accepts mail on a free port of 127.0.0.1, parses every accepted message
 * with mailparser, and can be told to answer 4xx or 5xx at RCPT TO or at DATA, so a test can script "451 the first
 * time, then accept" or "550 for this address".
 *
 *   const smtp = await startSmtpServer();
 *   smtp.respondWith((e) => (e.stage === 'data' && e.attempt === 1 ? { code: 451, message: 'try later' } : null));
 *   ... send to smtp.url ...
 *   const [msg] = await smtp.waitForMessages(1);
 *   await smtp.close();
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** ReceivedMessage is an accepted message: mailparser's result plus the SMTP envelope and the raw text. */
export type ReceivedMessage = ParsedMail & {
  envelope: { from: string; to: string[] };
  /** The whole message as received. */
  raw: string;
  /** The header section as received (up to the first blank line), unfolded lines kept as sent. */
  rawHeaders: string;
};

/** SmtpEvent is what the server is about to accept; `attempt` counts this stage for the same recipient(s), from 1. */
export type SmtpEvent =
  | { stage: 'rcpt'; from: string; to: string; attempt: number }
  | { stage: 'data'; from: string; to: string[]; message: ParsedMail; raw: string; attempt: number };

/** SmtpReply is a refusal to send back: a 4xx (try later) or 5xx (permanent) code and its text. */
export interface SmtpReply {
  code: number;
  message: string;
}

/** SmtpResponder decides each event: null accepts, a reply refuses. */
export type SmtpResponder = (event: SmtpEvent) => SmtpReply | null;

/** SmtpRefusal records a refusal the server sent, for assertions. */
export interface SmtpRefusal {
  stage: 'rcpt' | 'data';
  to: string[];
  code: number;
}

/** TestSmtpServer is a running server and what it received. */
export interface TestSmtpServer {
  /** `smtp://127.0.0.1:PORT`, ready for SMTP_URL or createEmailChannel. */
  url: string;
  port: number;
  /** Accepted messages, in order of acceptance. */
  messages: ReceivedMessage[];
  /** Refusals sent by the responder, in order. */
  refusals: SmtpRefusal[];
  /** waitForMessages resolves with the messages once at least `n` were accepted, or rejects after `timeoutMs`. */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** respondWith installs a responder (null restores "accept everything"). */
  respondWith(fn: SmtpResponder | null): void;
  /** reset forgets received messages, refusals, attempt counts and the responder. */
  reset(): void;
  close(): Promise<void>;
}

/** SmtpServerOptions tune the test server. */
export interface SmtpServerOptions {
  /** Initial responder; see respondWith. */
  respond?: SmtpResponder;
  /** How long close() lets open client connections linger before cutting them (default 500 ms). */
  closeTimeoutMs?: number;
}

function refusal(reply: SmtpReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function headerSection(raw: string): string {
  const end = raw.search(/\r?\n\r?\n/);
  return end === -1 ? raw : raw.slice(0, end);
}

function envelopeOf(session: SMTPServerSession): { from: string; to: string[] } {
  const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  return { from, to: session.envelope.rcptTo.map((a) => a.address) };
}

/** startSmtpServer listens on a free port of 127.0.0.1 and resolves once it accepts connections. */
export async function startSmtpServer(opts: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMessage[] = [];
  const refusals: SmtpRefusal[] = [];
  const attempts = new Map<string, number>();
  const waiters = new Set<() => void>();
  let responder: SmtpResponder | null = opts.respond ?? null;

  const nextAttempt = (key: string): number => {
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    return n;
  };
  const decide = (event: SmtpEvent, to: string[]): Error | null => {
    const reply = responder ? responder(event) : null;
    if (!reply) return null;
    refusals.push({ stage: event.stage, to, code: reply.code });
    return refusal(reply);
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: opts.closeTimeoutMs ?? 500,
    onRcptTo(address, session, callback) {
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const to = address.address;
      callback(decide({ stage: 'rcpt', from, to, attempt: nextAttempt(`rcpt:${to}`) }, [to]) ?? undefined);
    },
    onData(stream, session, callback) {
      readAll(stream)
        .then(async (buffer) => {
          const raw = buffer.toString('utf8');
          const envelope = envelopeOf(session);
          const parsed = await simpleParser(buffer);
          const attempt = nextAttempt(`data:${envelope.to.join(',')}`);
          const refused = decide({ stage: 'data', ...envelope, message: parsed, raw, attempt }, envelope.to);
          if (refused) return callback(refused);
          messages.push(Object.assign(parsed, { envelope, raw, rawHeaders: headerSection(raw) }));
          waiters.forEach((wake) => wake());
          callback(null, `queued as ${messages.length}`);
        })
        .catch((err: Error) => callback(Object.assign(err, { responseCode: 451 })));
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  // Errors after start (a client hanging up mid-session) are normal in tests and must not crash the process.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  const waitForMessages = (n: number, timeoutMs = 10_000): Promise<ReceivedMessage[]> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (messages.length < n) return false;
        waiters.delete(wake);
        clearTimeout(deadline);
        resolve(messages.slice());
        return true;
      };
      const wake = (): void => void check();
      const deadline = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${n} message(s), got ${messages.length}`));
      }, timeoutMs);
      waiters.add(wake);
      check();
    });

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    refusals,
    waitForMessages,
    respondWith(fn) {
      responder = fn;
    },
    reset() {
      messages.length = 0;
      refusals.length = 0;
      attempts.clear();
      responder = null;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
