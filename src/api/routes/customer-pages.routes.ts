/** PLACEHOLDER: being written; replaced before this lands. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';

/** customerPagesRoutes registers the customer-pages routes. */
export const customerPagesRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async () => undefined;
