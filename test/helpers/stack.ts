/** The whole service for an end-to-end test: the API on its own database, an SMTP server, and the real workers. */
import { createTestApp, type TestApp } from './app';
import { createEmailChannel } from '../../src/channels/email.channel';
import { startSmtpServer, type TestSmtpServer } from './smtp';
import { startTestWorker, type TestWorker } from './worker';
import { enqueueImport } from '../../src/jobs/import.handler';
import { QUEUES } from '../../src/jobs/contract';

/** TestStack is the API, the in-process SMTP server the workers send to, and the workers. */
export interface TestStack {
  t: TestApp;
  smtp: TestSmtpServer;
  worker: TestWorker;
}

/** startTestStack starts the API with its clock at `now`, an SMTP server and the workers sending to it. */
export async function startTestStack(label: string, now: Date): Promise<TestStack> {
  const smtp = await startSmtpServer();
  // The API sends the single-use links customers ask for (export, erasure) to the same server.
  const email = createEmailChannel({
    smtpUrl: smtp.url,
    outboxDir: 'outbox',
    from: 'Test Shop <hello@shop.test>',
    pool: false,
  });
  // Uploads (POST /v1/imports and the console's) are queued for these workers, on their queue.
  let worker: TestWorker | null = null;
  const t = await createTestApp(label, now, undefined, {
    email,
    smtpUrl: smtp.url,
    enqueueImport: async (id) => {
      if (!worker) throw new Error('the workers have not started');
      await enqueueImport(worker.queues[QUEUES.import], id);
    },
  });
  worker = await startTestWorker({ database: t.database, clock: t.clock, smtpUrl: smtp.url });
  return { t, smtp, worker };
}

/** closeTestStack stops what started, workers first (they send to the SMTP server and write to the database). */
export async function closeTestStack(s: Partial<TestStack>): Promise<void> {
  await s.worker?.close();
  await s.smtp?.close();
  await s.t?.close();
}
