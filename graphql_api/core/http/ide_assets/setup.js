// GraphiQL for graphql_api: queries and mutations over HTTP, subscriptions over
// graphql-transport-ws, both with the headers editor's headers (a token pasted there as
// {"Authorization": "Bearer ..."} signs in every request and the WebSocket's connection_init).
"use strict";

const url = new URL("/graphql", window.location.href).href;
const socketUrl = url.replace(/^http/, "ws");
const sockets = new Map(); // one WebSocket per set of headers: a new token, a new connection

function socketFor(headers) {
  const key = JSON.stringify(headers);
  if (!sockets.has(key)) {
    sockets.set(key, graphqlWs.createClient({ url: socketUrl, connectionParams: headers, lazy: true }));
  }
  return sockets.get(key);
}

function operationsOf(documentAST) {
  return (documentAST ? documentAST.definitions : []).filter((d) => d.kind === "OperationDefinition");
}

// The operations of the document the fetcher is sending, or null if it does not parse
// (the server says why). GraphiQL's own documentAST and operationName lag behind the
// editor: it parses 100 ms after the last edit, so a run right after a paste would
// send the new document with the old operation's name.
function operationsSent(query) {
  try {
    return operationsOf(GraphiQL.GraphQL.parse(query));
  } catch {
    return null;
  }
}

// The operation GraphiQL shows as chosen for the document sent: its own rule
// (@graphiql/toolkit's getSelectedOperationName) applied to that document. The
// operation picked before, if the document still has one of that name; else the one at
// its place among the operations before; else the first.
function chosenOperation(params, previousAST) {
  const operations = operationsSent(params.query);
  if (!operations || operations.length === 0) {
    return undefined;
  }
  const names = operations.map((d) => (d.name ? d.name.value : undefined));
  const picked = params.operationName;
  let index = picked ? names.indexOf(picked) : -1;
  if (index === -1 && picked) {
    const before = operationsOf(previousAST).map((d) => (d.name ? d.name.value : undefined));
    const place = before.indexOf(picked);
    index = place !== -1 && place < operations.length ? place : -1;
  }
  return operations[index === -1 ? 0 : index];
}

async function answer(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `${response.status}: ${text}` }] }; // a plain-text refusal
  }
}

function fetcher(params, options) {
  const headers = (options && options.headers) || {};
  const operation = chosenOperation(params, options && options.documentAST);
  // Named after the document sent: a name it lacks would be refused, and none at all
  // for a document of several operations.
  params = { ...params, operationName: operation && operation.name ? operation.name.value : undefined };
  if (operation && operation.operation === "subscription") {
    const client = socketFor(headers);
    return {
      subscribe(sink) {
        return { unsubscribe: client.subscribe(params, sink) };
      },
    };
  }
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify(params),
  }).then(answer);
}

const SIGN_UP = `# Welcome to graphql_api. Run this (the ▶ button) to sign up; then copy the
# accessToken into the headers editor below as
#   {"Authorization": "Bearer <accessToken>"}
# and the other tabs run as you.
mutation SignUp {
  register(input: {email: "ada@example.com", username: "ada", password: "a long password"}) {
    user { id username }
    accessToken
    refreshToken
    userErrors { field code message }
  }
}`;
const CREATE_ITEM = `mutation CreateItem {
  createItem(input: {title: "Lamp", price: "12.50", tags: ["home"]}) {
    item { id title price priceWithTax owner { username } }
    userErrors { field code message }
  }
}`;
const ITEMS = `query Items {
  items(first: 5) {
    totalCount
    nodes { id title price tags owner { username } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const CHAT = `# Create the room once, in another tab:
#   mutation { createChatRoom(input: {name: "general"}) { chatRoom { name } userErrors { message } } }
# then run this, and send a message from a second tab:
#   mutation { sendMessage(input: {room: "general", text: "Hello"}) { message { text } userErrors { message } } }
subscription ChatEvents {
  chatEvents(room: "general") {
    __typename
    ... on MessageSent { message { text author { username } sentAt } }
  }
}`;

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultTabs: [{ query: SIGN_UP }, { query: CREATE_ITEM }, { query: ITEMS }, { query: CHAT }],
  }),
);
