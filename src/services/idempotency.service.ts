/** The Idempotency-Key store behind the API's idempotency plugin: claim, look up, complete and release a key. */
import * as access from '../db/repositories/access.repository';
import type { ServiceContext } from './context';

/** IdempotencyKey names one Idempotency-Key of one API key on one route. */
export type IdempotencyKey = access.IdempotencyKey;

/** claimIdempotencyKey marks a key in progress for a body hash; false when it is already taken. */
export function claimIdempotencyKey(ctx: ServiceContext, k: IdempotencyKey, requestHash: string): Promise<boolean> {
  return access.claimIdempotencyKey(ctx.db, k, requestHash);
}

/** findIdempotentResponse returns the stored answer of a key (status 0 while still in progress), or undefined. */
export function findIdempotentResponse(
  ctx: ServiceContext,
  k: IdempotencyKey,
): ReturnType<typeof access.findIdempotentResponse> {
  return access.findIdempotentResponse(ctx.db, k.apiKeyId, k.route, k.key);
}

/** completeIdempotencyKey stores the successful answer to replay for the key. */
export function completeIdempotencyKey(
  ctx: ServiceContext,
  k: IdempotencyKey,
  statusCode: number,
  response: unknown,
): Promise<void> {
  return access.completeIdempotencyKey(ctx.db, k, statusCode, response);
}

/** releaseIdempotencyKey frees a key after an error, so the client may try again with it. */
export function releaseIdempotencyKey(ctx: ServiceContext, k: IdempotencyKey): Promise<void> {
  return access.releaseIdempotencyKey(ctx.db, k);
}
