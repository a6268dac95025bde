// Runs graphql-http's GraphQL-over-HTTP server audits against a URL; prints one JSON array.
// Usage: node audit.mjs URL
// Each entry: {id, name, status: "ok" | "notice" | "warn" | "error", reason?, response?}.
// "error" is a failed MUST, "warn" a failed SHOULD, "notice" a failed MAY. Exits 0 when the
// audits ran (whatever they found; the caller judges), 1 when they could not run.
import { auditServer } from 'graphql-http';

// A failing audit's response, so a failure message shows what the server said.
async function describeResponse(response) {
  if (!response) {
    return undefined;
  }
  let body;
  try {
    body = (await response.clone().text()).slice(0, 500);
  } catch {
    body = '(body already read by the audit)';
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body,
  };
}

async function main(url) {
  const results = await auditServer({ url });
  const report = [];
  for (const result of results) {
    const entry = { id: result.id, name: result.name, status: result.status };
    if (result.status !== 'ok') {
      entry.reason = result.reason;
      entry.response = await describeResponse(result.response);
    }
    report.push(entry);
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exitCode = 2;
} else {
  try {
    process.exitCode = await main(url);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? String(error)) : String(error));
    process.exitCode = 1;
  }
}
