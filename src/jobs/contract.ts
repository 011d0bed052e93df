/**
 * The one job contract: queue names, payloads (ids only, never addresses or message text), attempts, backoff,
 * job ids and removal policy. Producers and workers both import it, so they cannot disagree.
 */
import type { JobsOptions } from 'bullmq';

/** QUEUES names every queue; the prefix of the config keeps deployments (and test files) apart in one Redis. */
export const QUEUES = {
  email: 'email',
  letter: 'letter',
  call: 'call',
  newsletter: 'newsletter',
  import: 'import',
  maintenance: 'maintenance',
} as const;

/** QueueName is one of QUEUES. */
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** TouchJob asks a channel worker to deliver one touch. */
export interface TouchJob {
  touchId: string;
}

/** ImportJob asks a worker to process one stored import; its job id is the import id. */
export interface ImportJob {
  importId: string;
}

/**
 * IMPORT_JOB_OPTIONS: a failed run resumes from the import's committed progress, so retrying is safe; the import
 * row (not the job) keeps the result, so finished jobs leave Redis.
 */
export const IMPORT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** MaintenanceJob names one periodic task of the maintenance queue. */
export interface MaintenanceJob {
  task: MaintenanceTask;
}

/** MaintenanceTask are the periodic tasks; each has exactly one handler (checked when the worker boots). */
export type MaintenanceTask =
  | 'dispatch'
  | 'reconcile'
  | 'call-reminders'
  | 'escalate'
  | 'newsletters'
  | 'later-years'
  | 'retention'
  | 'report-rollup';

/** MAINTENANCE_EVERY_MS is how often each periodic task runs. */
export const MAINTENANCE_EVERY_MS: Record<MaintenanceTask, number> = {
  dispatch: 1000,
  reconcile: 30_000,
  'call-reminders': 60_000,
  escalate: 15 * 60_000,
  newsletters: 10_000,
  // Anniversaries are a day's matter and each later-year contact is planned a year ahead: every 10 minutes is plenty.
  'later-years': 10 * 60_000,
  // Idempotency answers past 24 h and uploads stopped for an hour: minutes late is fine.
  retention: 5 * 60_000,
  // The dashboard's monthly rollups of recent months (and once a day all months): see dashboard.service.
  'report-rollup': 5 * 60_000,
};

/** touchJobId is the deterministic job id of a touch: one job per touch, however often it is enqueued. */
export function touchJobId(touchId: string): string {
  return `touch-${touchId}`;
}

/**
 * TOUCH_JOB_OPTIONS: transient failures retry with exponential backoff (2 s doubling: 12 attempts span about 68
 * minutes, so a mail server down for an hour delays contacts and fails none); finished jobs leave Redis.
 */
export const TOUCH_JOB_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600, count: 10_000 },
};

/** MAINTENANCE_JOB_OPTIONS: a periodic run that fails is simply replaced by the next one. */
export const MAINTENANCE_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { count: 100 },
};
