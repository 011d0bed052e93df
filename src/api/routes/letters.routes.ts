/** PLACEHOLDER: being written; replaced before this lands. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';

/** lettersRoutes registers the letters routes. */
export const lettersRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async () => undefined;
