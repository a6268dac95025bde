// GraphiQL as a person uses it, in headless Chromium (Debian's, no browser download):
// sign up, paste documents and run them at once, paste the token into the headers
// editor, run a query and a mutation, and watch a subscription receive a message. Arguments: server URL, screenshot path.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const outside = [];
page.on("request", (request) => {
  if (!request.url().startsWith(url) && !request.url().startsWith("data:")) outside.push(request.url());
});
const problems = [];
page.on("pageerror", (error) => problems.push(String(error)));
page.on("console", (message) => {
  if (message.type() === "error") problems.push(message.text());
});

const result = page.locator("section.result-window");

async function open(tab) {
  await page.locator(".graphiql-tab", { hasText: tab }).click();
  await page.waitForTimeout(300); // as a person would, before the next click
}

// The headers editor, as a person would: click it, type (no bracket auto-closing).
// GraphiQL keeps headers per tab.
async function typeHeaders(token) {
  await page.locator(".graphiql-editor-tools button", { hasText: "Headers" }).click();
  await page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").click();
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
  await page.waitForTimeout(300);
}

// Runs the open tab's operation; its answer, once it shows `expected`.
async function run(expected) {
  await page.locator(".graphiql-execute-button").click();
  await result.getByText(expected).first().waitFor({ timeout: 15000 });
  return JSON.parse(await result.locator(".CodeMirror").evaluate((e) => e.CodeMirror.getValue()));
}

// Pastes `text` over the open tab's document and runs it at once, as a quick person does:
// in one go, so surely within the 100 ms before GraphiQL parses what was pasted. The answer
// is what the run shows next (JSON, or the text GraphiQL shows when a run fails).
async function pasteAndRun(text) {
  await page.evaluate((text) => {
    const editor = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
    editor.focus();
    editor.execCommand("selectAll");
    editor.replaceSelection(text, "end", "paste"); // what CodeMirror does with a paste
    document.querySelector(".graphiql-execute-button").click(); // which empties the result
  }, text);
  const shown = await page.waitForFunction(
    () => document.querySelector("section.result-window .CodeMirror").CodeMirror.getValue().trim(),
    null,
    { timeout: 15000 },
  );
  const value = await shown.jsonValue();
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

try {
  await page.goto(`${url}/graphql`);
  await page.locator(".graphiql-tab", { hasText: "SignUp" }).waitFor();

  const signedUp = await run("accessToken");
  const token = signedUp.data.register.accessToken;
  // A new document pasted over the last one runs as what the editor shows, not as the
  // operation the tab named before (SignUp): one operation, then two (the first runs).
  const pasted = [
    await pasteAndRun("query Pasted { items(first: 1) { totalCount } }"),
    await pasteAndRun("query Anyone { me { username } }\nquery Count { items { totalCount } }"),
  ];

  await open("CreateItem");
  await typeHeaders(token);
  const created = await run("priceWithTax");
  await open("Items");
  const items = await run("totalCount");

  // The room exists (made by the test); the message is sent once the socket is open.
  await open("ChatEvents");
  await typeHeaders(token);
  await page.locator(".graphiql-execute-button").click();
  await page.waitForTimeout(1500);
  const sent = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation { sendMessage(input: {room: "general", text: "Hello from GraphiQL"}) { userErrors { message } } }',
    }),
  }).then((response) => response.json());
  await result.getByText("Hello from GraphiQL").first().waitFor({ timeout: 15000 });
  const event = JSON.parse(await result.locator(".CodeMirror").evaluate((e) => e.CodeMirror.getValue()));
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ pasted, created: created.data, items: items.data, sent, event, outside, problems }));
} catch (error) {
  await page.screenshot({ path: screenshot }).catch(() => {});
  console.error(String(error));
  console.log(JSON.stringify({ failed: String(error), outside, problems }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
