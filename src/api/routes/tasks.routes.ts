/** PLACEHOLDER: being written; replaced before this lands. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';

/** tasksRoutes registers the tasks routes. */
export const tasksRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async () => undefined;
