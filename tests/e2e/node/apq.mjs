// Drives @apollo/client's PersistedQueryLink (automatic persisted queries) against a server.
// Usage: node apq.mjs GRAPHQL_URL
// Prints one JSON object: for each mode ("POST", and "GET" with useGETForHashedQueries),
// the steps run in order, each with its result and the HTTP requests the link made
// ({method, sentQuery, url length, status, error codes}). Exits 0 when every step ran
// (the caller judges what it saw), 1 when one threw.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createHash } from 'node:crypto';

function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

// Each mode asks its own operations: the server keeps what the other mode registered.
function operations(mode) {
  return {
    items: gql`query Items${mode} { items(first: 2) { totalCount nodes { title } } }`,
    register: gql`mutation Register${mode}($input: RegisterInput!) {
      register(input: $input) { user { username } userErrors { code } }
    }`,
  };
}

function client(url, mode, requests) {
  async function recordingFetch(input, init) {
    const response = await fetch(input, init);
    const method = init?.method ?? 'GET';
    const sent = method === 'GET'
      ? new URL(input).searchParams.has('query')
      : 'query' in JSON.parse(init.body);
    let codes = [];
    try {
      const body = JSON.parse(await response.clone().text());
      codes = (body.errors ?? []).map((e) => e.extensions?.code ?? null);
    } catch {
      codes = ['(not JSON)'];
    }
    requests.push({ method, sentQuery: sent, urlLength: String(input).length, status: response.status, codes });
    return response;
  }
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: mode === 'GET' });
  return new ApolloClient({
    link: persisted.concat(new HttpLink({ uri: url, fetch: recordingFetch })),
    cache: new InMemoryCache(),
  });
}

async function step(name, requests, run) {
  const before = requests.length;
  const result = await run();
  return { name, data: result.data ?? null, error: result.error?.message ?? null, requests: requests.slice(before) };
}

async function runMode(url, mode) {
  const ops = operations(mode);
  const requests = [];
  const first = client(url, mode, requests);
  const again = client(url, mode, requests); // a second browser: nothing cached in its link
  const query = { query: ops.items, fetchPolicy: 'network-only' };
  const input = { email: `apq-${mode}@example.com`, username: `apq_${mode.toLowerCase()}`, password: 'long enough pw' };
  return [
    await step('query, first time', requests, () => first.query(query)),
    await step('query, again', requests, () => first.query(query)),
    await step('query, another client', requests, () => again.query(query)),
    await step('mutation', requests, () => first.mutate({ mutation: ops.register, variables: { input } })),
  ];
}

async function main(url) {
  const report = {};
  for (const mode of ['POST', 'GET']) {
    report[mode] = await runMode(url, mode);
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: node apq.mjs GRAPHQL_URL');
  process.exitCode = 2;
} else {
  main(url).then(
    (code) => { process.exitCode = code; },
    (error) => { console.error(error?.stack ?? String(error)); process.exitCode = 1; },
  );
}
