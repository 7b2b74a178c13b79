// The playground works offline: Chromium, allowed to reach only the
// Filegraph server, loads `/`, runs the example query and sees its answer.
// Env: FILEGRAPH_URL (the server), EXPECT (text the answer must contain),
// ARTIFACTS (folder for a screenshot), TOKEN (when the server has auth on:
// the header editor must be open with an Authorization header to fill in,
// and the query runs once the token is put there).
import { launch, isolatedContext, fail, need, watch } from './browser.mjs';

const base = need('FILEGRAPH_URL');
const expect = need('EXPECT');
const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, [base]);
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(base + '/');
  await page.locator('.graphiql-execute-button').waitFor({ timeout: 20_000 }).catch(() =>
    fail('GraphiQL did not start: ' + problems.join('; ')));
  // The example query is there; run it.
  const editor = await page.locator('.graphiql-query-editor').innerText();
  if (!editor.includes('files(')) fail('the editor does not hold the example query: ' + editor);
  const token = process.env.TOKEN;
  if (token) {
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor').last();
    const text = await headers.innerText().catch(() => '');
    if (!text.includes('Authorization')) fail('with auth on, the header editor does not offer an Authorization header: ' + text);
    await page.evaluate((t) => {
      // CodeMirror 5 hangs its editor on its element.
      /** @typedef {Element & { CodeMirror: { setValue(v: string): void } }} WithEditor */
      const cms = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map((e) => /** @type {WithEditor} */ (e).CodeMirror);
      cms[cms.length - 1]?.setValue(JSON.stringify({ Authorization: 'Bearer ' + t }));
    }, token);
  }
  await page.locator('.graphiql-execute-button').click();
  const response = page.locator('.graphiql-response');
  await page.waitForFunction(
    (want) => document.querySelector('.graphiql-response')?.textContent?.includes(want),
    expect, { timeout: 20_000 },
  ).catch(async () => fail('the answer does not contain ' + expect + ': ' + (await response.innerText())));
  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/playground${token ? '-auth' : ''}.png` });
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  const real = problems.filter((p) => !p.includes('blockedbyclient'));
  if (real.length) fail(real.join('; '));
  console.log('OK playground ran the example query offline');
} finally {
  await browser.close();
}
