// A supergraph on one machine, for the end-to-end test (the root package's
// TestGateway) and for trying Filegraph as a subgraph by hand: the users
// subgraph (users.mjs) and an @apollo/gateway that composes it with
// Filegraph by IntrospectAndCompose (each subgraph's _service { sdl }) and
// forwards the client's Authorization header to both, as a router's header
// propagation does. Prints one JSON line, { gateway, users }, when ready.
//
//   FILEGRAPH_URL=http://127.0.0.1:8080/query AUTH_JWT_SECRET=... node web/federation/gateway.mjs
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { startUsers } from './users.mjs';

const filegraph = process.env.FILEGRAPH_URL;
const secret = process.env.AUTH_JWT_SECRET ?? '';
if (!filegraph) {
  console.error('FILEGRAPH_URL is not set: the address of Filegraph\'s /query');
  process.exit(2);
}
const users = await startUsers({ port: Number(process.env.USERS_PORT ?? 0), secret });

/** @typedef {{ authorization?: string }} Context */
const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: 'filegraph', url: filegraph },
      { name: 'users', url: users.url },
    ],
  }),
  buildService: ({ url }) =>
    new RemoteGraphQLDataSource({
      url,
      /** @param {{ request: import('@apollo/gateway').GraphQLDataSourceProcessOptions<Context>['request'], context: Context }} o */
      willSendRequest({ request, context }) {
        if (context.authorization) request.http?.headers.set('authorization', context.authorization);
      },
    }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.GATEWAY_PORT ?? 0), host: '127.0.0.1' },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(JSON.stringify({ gateway: url, users: users.url }));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, async () => {
    await server.stop();
    await users.stop();
    process.exit(0);
  });
}
