// PostGraphile v5 over the benchmark's scratch database, as a peer of graphql_api in
// scripts/bench (postgraphile.py starts it with the Node 22 installed here).
// Environment: DATABASE_URL (postgresql://...), PORT. One process, GraphiQL off,
// no subscriptions; GET /livez answers once the schema is built.
import { createServer } from "node:http";

import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const connectionString = process.env.DATABASE_URL;
const port = Number(process.env.PORT);
if (!connectionString || !port) {
  console.error("serve.mjs needs DATABASE_URL and PORT in its environment");
  process.exit(2);
}

// graphql_api lists users in sign-up order (created_at, id). PostGraphile offers orderBy
// on indexed columns only, and users.created_at has no index: this tag offers it anyway.
const UsersBySignUp = jsonPgSmartTags({
  version: 1,
  config: { class: { users: { attribute: { created_at: { tags: { behavior: "+orderBy" } } } } } },
});

const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [UsersBySignUp],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      // As many connections as graphql_api's pool may open (pool size 10 + overflow 10).
      poolConfig: { max: 20 },
      pubsub: false,
    }),
  ],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
// The schema is built before the first request is taken.
await pgl.getSchemaResult();
const handler = serv.createHandler();
const server = createServer((req, res) => {
  if (req.url === "/livez") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok");
    return;
  }
  handler(req, res);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`PostGraphile listening on http://127.0.0.1:${port}/graphql`);
});
const stop = () => server.close(() => pgl.release().then(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
