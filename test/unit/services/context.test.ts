/** isTransientDbError: what may pass when tried again (lost connection, deadlock) and what never will. */
import { isTransientDbError } from '../../../src/services/context';

it.each([
  [new Error('Connection terminated unexpectedly'), true],
  [new Error('timeout exceeded when trying to connect'), true], // the pool had no connection free in time
  [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
  [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), true],
  [Object.assign(new Error('the database system is starting up'), { code: '57P03' }), true],
  [Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }), false],
  [Object.assign(new Error('bind message supplies 70000 parameters'), { code: '08P01' }), false],
  [Object.assign(new Error('deadlock detected'), { code: '40P01' }), true],
  [Object.assign(new Error('could not serialize access'), { code: '40001' }), true],
  [Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), true],
  [Object.assign(new Error('violates check constraint'), { code: '23514' }), false],
  [Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' }), false],
  [Object.assign(new Error('sale shop/1 was already posted with a different body'), { code: 'conflict' }), false],
  [new TypeError("Cannot read properties of undefined (reading 'id')"), false],
])('%p is transient: %p', (err, transient) => {
  expect(isTransientDbError(err)).toBe(transient);
});
