/** PLACEHOLDER: being written; replaced before this lands. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';

/** importsRoutes registers the imports routes. */
export const importsRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async () => undefined;
