/** PLACEHOLDER: being written; replaced before this lands. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';

/** reportsRoutes registers the reports routes. */
export const reportsRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async () => undefined;
