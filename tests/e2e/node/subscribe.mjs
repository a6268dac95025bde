// Subscribes to chatEvents with graphql-ws and prints each event as one JSON line.
// Usage: node subscribe.mjs WS_URL TOKEN ROOM
// Exits 0 after the first MessageSent; 1 on any error (described on stderr).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const EVENTS = `subscription ($room: String!) {
  chatEvents(room: $room) {
    __typename
    ... on MessageSent { message { id text author { username } } }
    ... on UserTyping { typing user { username } }
  }
}`;

function describe(error) {
  if (Array.isArray(error)) {
    return `GraphQL errors: ${JSON.stringify(error)}`;
  }
  if (error && typeof error.code === 'number' && 'reason' in error) {
    return `WebSocket closed: ${error.code} ${error.reason}`;
  }
  if (error instanceof Error) {
    return error.stack ?? String(error);
  }
  return `Error: ${String(error?.message ?? error)}`;
}

async function main(url, token, room) {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    for await (const result of client.iterate({ query: EVENTS, variables: { room } })) {
      if (result.errors) {
        throw result.errors;
      }
      const event = result.data.chatEvents;
      process.stdout.write(`${JSON.stringify(event)}\n`);
      if (event.__typename === 'MessageSent') {
        return 0;
      }
    }
    console.error('Error: the subscription completed before a MessageSent');
    return 1;
  } catch (error) {
    console.error(describe(error));
    return 1;
  } finally {
    await client.dispose();
  }
}

const [url, token, room] = process.argv.slice(2);
if (!url || !token || !room) {
  console.error('usage: node subscribe.mjs WS_URL TOKEN ROOM');
  process.exitCode = 2;
} else {
  process.exitCode = await main(url, token, room);
}
