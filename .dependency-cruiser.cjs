/**
 * The architecture's layer rules (SPEC "Architecture that must hold"), checked by `npm run lint` in `npm test`.
 * A rule here is the only statement of it: src/README.md points here.
 */
/** npmPackage matches the resolved path of any of the named npm packages. */
const npmPackage = (names) => `(^|/)node_modules/(${names})/`;
const IO_PACKAGES = npmPackage('pg|kysely|ioredis|bullmq|nodemailer|pdf-lib|fastify|@fastify/[^/]+|pino|prom-client|csv-parse');
const NODE_IO = '^(node:)?(fs|fs/promises|net|http|https|child_process|dgram|tls|dns|worker_threads|os)$';

module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'domain/ is pure: it imports only domain/ and pure libraries (luxon, node:crypto), never I/O.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/', dependencyTypesNot: ['core', 'npm'] },
    },
    {
      name: 'domain-no-io-packages',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: [IO_PACKAGES, NODE_IO] },
    },
    {
      name: 'routes-never-touch-db',
      comment: 'api/ and web/ call services; only services reach db/.',
      severity: 'error',
      from: { path: '^src/(api|web)/' },
      to: { path: '^src/db/' },
    },
    {
      name: 'repositories-never-import-services',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/(services|jobs|api|web|channels|main)/' },
    },
    {
      name: 'services-know-no-queue',
      comment: 'services/ never import jobs/ nor a queue library: the queue is a port the composition root passes in.',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: ['^src/(jobs|api|web|main)/', npmPackage('bullmq|ioredis')] },
    },
    {
      name: 'only-db-imports-kysely',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/db/' },
      to: { path: npmPackage('kysely|pg') },
    },
    {
      name: 'only-main-composes',
      comment: 'main/ is the composition root: nothing imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/main/' },
      to: { path: '^src/main/' },
    },
    {
    name: 'no-circular',
    comment: 'Modules do not import each other in a circle (a type-only import is fine).',
    severity: 'error',
    from: {},
    to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
  },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
