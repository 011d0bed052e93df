/** PLACEHOLDER: being written; replaced before this lands. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';

/** newslettersRoutes registers the newsletters routes. */
export const newslettersRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async () => undefined;
