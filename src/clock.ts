/** Clock is the only source of "now" for business logic; tests pass a fixed or moving clock. */
export interface Clock {
  now(): Date;
}

/** systemClock reads the wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** fixedClock always answers the same instant; `set` and `advance` move it (for tests and simulations). */
export function fixedClock(start: Date): Clock & { set(d: Date): void; advance(ms: number): void } {
  let current = new Date(start);
  return {
    now: () => new Date(current),
    set: (d: Date) => {
      current = new Date(d);
    },
    advance: (ms: number) => {
      current = new Date(current.getTime() + ms);
    },
  };
}
