/** createBatcher: what is asked for together runs together, each asker gets its own answer, and nothing waits idle. */
import { createBatcher } from '../../../src/services/batcher';

/** deferred is a promise the test settles by hand, to hold a batch "in flight". */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

it('runs the items asked for in one tick as one batch and answers each with its own result', async () => {
  const batches: number[][] = [];
  const double = createBatcher(
    async (items: number[]) => {
      batches.push(items);
      return items.map((n) => n * 2);
    },
    { maxBatch: 100, maxInFlight: 1 },
  );
  expect(await Promise.all([1, 2, 3].map(double))).toEqual([2, 4, 6]);
  expect(batches).toEqual([[1, 2, 3]]);
});

it('gathers what is asked while a batch runs into the next one, never more than maxBatch, and at most maxInFlight at once', async () => {
  const gates: ReturnType<typeof deferred<void>>[] = [];
  const batches: number[][] = [];
  let running = 0;
  let mostRunning = 0;
  const echo = createBatcher(
    async (items: number[]) => {
      batches.push(items);
      running++;
      mostRunning = Math.max(mostRunning, running);
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
      running--;
      return items;
    },
    { maxBatch: 3, maxInFlight: 1 },
  );

  const first = echo(0);
  await new Promise((r) => setImmediate(r));
  expect(batches).toEqual([[0]]); // idle: the first item went at once, alone
  const rest = [1, 2, 3, 4, 5, 6, 7].map(echo);
  await new Promise((r) => setImmediate(r));
  expect(batches).toHaveLength(1); // still one in flight: the others wait
  for (let i = 0; i < 4; i++) {
    gates[i].resolve();
    await new Promise((r) => setImmediate(r));
  }
  expect(await Promise.all([first, ...rest])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  expect(batches).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
  expect(mostRunning).toBe(1);
});

it('runs each item of a failed batch again alone, so only the item that fails alone is rejected', async () => {
  const runs: string[][] = [];
  const upper = createBatcher(
    async (items: string[]) => {
      runs.push(items);
      if (items.includes('bad')) throw new Error('bad row');
      return items.map((s) => s.toUpperCase());
    },
    { maxBatch: 10, maxInFlight: 1 },
  );
  const settled = await Promise.allSettled(['a', 'bad', 'c'].map(upper));
  expect(settled).toEqual([
    { status: 'fulfilled', value: 'A' },
    { status: 'rejected', reason: new Error('bad row') },
    { status: 'fulfilled', value: 'C' },
  ]);
  expect(runs).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  expect(await upper('d')).toBe('D'); // and the next batch runs as usual
});

it('rejects the whole batch, without trying each item alone, when the database is away', async () => {
  const runs: number[][] = [];
  const away = createBatcher(
    async (items: number[]): Promise<number[]> => {
      runs.push(items);
      throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    },
    { maxBatch: 10, maxInFlight: 1 },
  );
  const settled = await Promise.allSettled([1, 2, 3].map(away));
  expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
  expect(runs).toEqual([[1, 2, 3]]);
});

it('rejects a lone item with the error of its run', async () => {
  const failing = createBatcher(async (_items: number[]): Promise<number[]> => {
    throw new Error('connection lost');
  });
  await expect(failing(1)).rejects.toThrow('connection lost');
});

it('rejects the batch when the run throws before returning a promise', async () => {
  const broken = createBatcher((() => {
    throw new Error('bug');
  }) as unknown as (items: number[]) => Promise<number[]>);
  await expect(broken(1)).rejects.toThrow('bug');
});

it('rejects the batch when the run answers with the wrong number of results', async () => {
  const short = createBatcher(async (items: number[]) => items.slice(1));
  const settled = await Promise.allSettled([1, 2].map(short));
  expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected']);
});
