// A second subgraph beside Filegraph, as an app's own users service would
// be: it owns User and stores only the ids of the user's files; File is
// Filegraph's entity, so it returns references ({ __typename, id }) and the
// router asks Filegraph for the rest (_entities), links included.
//
// It verifies the same HS256 bearer token Filegraph does (AUTH_JWT_SECRET),
// forwarded by the router; a real service would use its auth provider's SDK.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

export const typeDefs = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])

type Query {
  "The caller, from their bearer token."
  me: User!
}

type Mutation {
  "Sets the caller's avatar to a Filegraph file id (null clears it)."
  setAvatar(fileId: ID): User!
  "Adds Filegraph file ids to the caller's files."
  addFiles(fileIds: [ID!]!): User!
}

type User @key(fields: "id") {
  id: ID!
  avatar: File
  files: [File!]!
}

"Filegraph's: this subgraph only refers to files by id."
type File @key(fields: "id", resolvable: false) {
  id: ID!
}
`;

/**
 * The user id (sub) of a valid HS256 token, or null.
 * @param {string | undefined} header the Authorization header
 * @param {string} secret
 */
export function verify(header, secret) {
  const m = /^Bearer ([^.]+)\.([^.]+)\.([^.]+)$/.exec(header ?? '');
  if (!m || !secret) return null;
  const [h = '', p = '', sig = ''] = m.slice(1);
  const want = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  try {
    const head = JSON.parse(Buffer.from(h, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    if (head.alg !== 'HS256' || typeof claims.sub !== 'string') return null;
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) return null;
    return claims.sub;
  } catch {
    return null;
  }
}

/** @typedef {{ avatar: string | null, files: string[] }} Record */
/** @typedef {{ userId: string | null }} Context */

/**
 * Starts the users subgraph on 127.0.0.1:port (0: any free port).
 * @param {{ port: number, secret: string }} options
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
export async function startUsers({ port, secret }) {
  /** @type {Map<string, Record>} */
  const users = new Map();
  /** @param {Context} ctx */
  const caller = (ctx) => {
    if (!ctx.userId) throw new GraphQLError('a valid bearer token is required', { extensions: { code: 'UNAUTHENTICATED' } });
    let r = users.get(ctx.userId);
    if (!r) users.set(ctx.userId, (r = { avatar: null, files: [] }));
    return { id: ctx.userId, ...r, record: r };
  };
  /** @param {{ avatar: string | null, files: string[] }} u */
  const refs = (u) => ({
    avatar: u.avatar && { __typename: 'File', id: u.avatar },
    files: u.files.map((id) => ({ __typename: 'File', id })),
  });
  const resolvers = {
    Query: {
      /** @param {unknown} _ @param {unknown} __ @param {Context} ctx */
      me: (_, __, ctx) => caller(ctx),
    },
    Mutation: {
      /** @param {unknown} _ @param {{ fileId: string | null }} args @param {Context} ctx */
      setAvatar: (_, { fileId }, ctx) => {
        const u = caller(ctx);
        u.record.avatar = fileId;
        return { ...u, avatar: fileId };
      },
      /** @param {unknown} _ @param {{ fileIds: string[] }} args @param {Context} ctx */
      addFiles: (_, { fileIds }, ctx) => {
        const u = caller(ctx);
        u.record.files.push(...fileIds);
        return { ...u, files: u.record.files };
      },
    },
    User: {
      /** @param {{ id: string }} ref @param {Context} ctx */
      __resolveReference: (ref, ctx) => (ref.id === ctx.userId ? caller(ctx) : null),
      /** @param {{ avatar: string | null, files: string[] }} u */
      avatar: (u) => refs(u).avatar,
      /** @param {{ avatar: string | null, files: string[] }} u */
      files: (u) => refs(u).files,
    },
  };
  const server = new ApolloServer({
    schema: buildSubgraphSchema({ typeDefs: parse(typeDefs), resolvers: /** @type {any} */ (resolvers) }),
    plugins: [ApolloServerPluginInlineTraceDisabled()], // no Apollo Studio here
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port, host: '127.0.0.1' },
    context: async ({ req }) => ({ userId: verify(req.headers.authorization, secret) }),
  });
  return { url, stop: () => server.stop() };
}
