/** Read-side queries for a customer's timeline: tasks and notes (sales and touches live with their own repositories). */
import type { Database } from '../database';

/** TaskEntry is a task on a customer's timeline. */
export interface TaskEntry {
  id: string;
  touchId: string | null;
  kind: string;
  assigneeId: string | null;
  dueAt: Date;
  status: string;
  attempt: number;
  outcome: string | null;
  notes: string | null;
  completedAt: Date | null;
}

/** NoteEntry is a staff note on a customer. */
export interface NoteEntry {
  id: string;
  staffId: string | null;
  body: string;
  complaint: boolean;
  createdAt: Date;
}

/** listTasksOfCustomer returns a customer's tasks by due time. */
export async function listTasksOfCustomer(db: Database, customerId: string): Promise<TaskEntry[]> {
  return db
    .selectFrom('tasks')
    .select(['id', 'touchId', 'kind', 'assigneeId', 'dueAt', 'status', 'attempt', 'outcome', 'notes', 'completedAt'])
    .where('customerId', '=', customerId)
    .orderBy('dueAt')
    .execute();
}

/** listNotesOfCustomer returns a customer's notes, oldest first. */
export async function listNotesOfCustomer(db: Database, customerId: string): Promise<NoteEntry[]> {
  return db
    .selectFrom('notes')
    .select(['id', 'staffId', 'body', 'complaint', 'createdAt'])
    .where('customerId', '=', customerId)
    .orderBy('createdAt')
    .execute();
}
