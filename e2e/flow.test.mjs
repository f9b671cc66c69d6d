// Browser test of the dev-mode demo page and GraphiQL, driving Debian's
// Chromium headless through playwright-core. It plays a recruiter: the
// admin-approval wall of an organization that requires it, then Connect,
// consent on the emulator's page, Connected, colleague search, a test message
// confirmed by the emulator, Disconnect, and a query in GraphiQL. Every
// request to an origin other than the server's is blocked and fails the run,
// and so does any Content-Security-Policy violation or page error.
//
// Environment: WINTRO_E2E_URL (the dev-mode server, required), CHROMIUM_PATH
// (default /usr/bin/chromium), E2E_ARTIFACTS (screenshots; default
// e2e/artifacts/). .ci/browser.sh starts the server and sets them.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const BASE_URL = process.env.WINTRO_E2E_URL;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = process.env.E2E_ARTIFACTS || fileURLToPath(new URL('./artifacts/', import.meta.url));

// Seeded by the emulator (msemulator/seed.go) and the dev-mode app registration.
const RECRUITER_LOGIN = 'rita@contoso.test';
const APPROVAL_LOGIN = 'fiona@fabrikam.test';
const APPLICATION_ID = 'd70347e7-f4d1-4323-93a4-760a6a6c1d91';
const SCOPES = ['User.Read', 'User.ReadBasic.All', 'ChatMessage.Send', 'Chat.ReadWrite', 'offline_access'];

// The flags the project runs Chromium with; Playwright adds --headless and
// a fresh --user-data-dir of its own choosing through launchPersistentContext.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let context;
let page;
let userDataDir;
const offOrigin = [];
const cspViolations = [];
const pageErrors = [];

before(async () => {
  assert.ok(BASE_URL, 'set WINTRO_E2E_URL to the dev-mode server, for example http://127.0.0.1:8080');
  mkdirSync(ARTIFACTS, { recursive: true });
  userDataDir = mkdtempSync(join(tmpdir(), 'wintro-e2e-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  await blockOtherOrigins(context);
  page = context.pages()[0] || (await context.newPage());
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) {
      cspViolations.push(message.text());
    }
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

after(async () => {
  await context?.close();
  if (userDataDir) {
    rmSync(userDataDir, { recursive: true, force: true });
  }
});

// blockOtherOrigins aborts every request that leaves the server's origin,
// as a machine without internet access would, and records it.
async function blockOtherOrigins(ctx) {
  const origin = new URL(BASE_URL).origin;
  await ctx.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) {
      return route.continue();
    }
    offOrigin.push(url);
    return route.abort('blockedbyclient');
  });
}

// step runs one part of the flow as a test and saves a screenshot named
// failure-<name>.png when it fails.
function step(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (err) {
      await page?.screenshot({ path: join(ARTIFACTS, `failure-${name.replaceAll(' ', '-')}.png`), fullPage: true });
      throw err;
    }
  });
}

async function screenshot(name) {
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
}

async function expectStatus(label) {
  await page.locator('#status').filter({ hasText: label }).waitFor();
}

// consent fills the emulator's sign-in form with login and presses the
// button with the given value (accept, request_approval, …).
async function consent(login, button) {
  await page.locator('#login').fill(login);
  await page.locator(`button[name="consent"][value="${button}"]`).click();
}

step('demo page shows the card disconnected', async () => {
  const response = await page.goto(BASE_URL + '/');
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'] || '', /default-src 'self'/);
  await expectStatus('Not connected');
  await page.locator('#connect').waitFor();
  assert.equal(await page.locator('#disconnect').isVisible(), false, 'Disconnect is visible while disconnected');

  const scopes = await page.locator('#permissions tbody code').allTextContents();
  assert.deepEqual(scopes.sort(), [...SCOPES].sort());
  const reasons = await page.locator('#permissions tbody td:nth-child(2)').allTextContents();
  assert.ok(reasons.every((reason) => reason.length > 10), `a permission has no reason: ${JSON.stringify(reasons)}`);
  assert.ok((await page.locator('#not-accessed li').count()) > 0, 'the list of what Wintro never accesses is empty');
  await screenshot('01-disconnected.png');
});

step('admin approval shows application id and link', async () => {
  await page.locator('#connect').click();
  await page.waitForURL('**/_ms/**/oauth2/v2.0/authorize?**');
  await consent(APPROVAL_LOGIN, 'accept');
  await page.locator('h1', { hasText: 'Approval required' }).waitFor();
  await screenshot('02-emulator-approval-required.png');
  await consent(APPROVAL_LOGIN, 'request_approval');

  await page.waitForURL(BASE_URL + '/');
  await expectStatus('Waiting for admin approval');
  await page.locator('#pending').waitFor();
  assert.equal(await page.locator('#application-id').textContent(), APPLICATION_ID);
  const link = await page.locator('#admin-consent-url').getAttribute('href');
  assert.match(link, /\/v2\.0\/adminconsent\?/);
  assert.equal(new URL(link).searchParams.get('client_id'), APPLICATION_ID);
  assert.equal(await page.locator('#error').isVisible(), false, 'an error is shown next to the pending-approval panel');
  await screenshot('03-pending-approval.png');

  const adminPage = await context.request.get(link);
  assert.equal(adminPage.status(), 200, `admin consent link ${link} answered ${adminPage.status()}`);
});

step('connect and consent as the recruiter', async () => {
  await page.locator('#connect').click();
  await page.waitForURL('**/_ms/**/oauth2/v2.0/authorize?**');
  await page.locator('h1', { hasText: 'Permissions requested' }).waitFor();
  await screenshot('04-emulator-consent.png');
  await consent(RECRUITER_LOGIN, 'accept');

  await page.waitForURL(BASE_URL + '/');
  await expectStatus('Connected');
  assert.equal(await page.locator('#account-email').textContent(), RECRUITER_LOGIN);
  assert.equal(await page.locator('#notice').textContent(), 'Microsoft Teams is connected.');
  assert.equal(await page.locator('#pending').isVisible(), false, 'the pending-approval panel is still visible');
  const granted = await page.locator('#permissions tbody td:nth-child(3)').allTextContents();
  assert.deepEqual(granted, SCOPES.map(() => 'Yes'));
  await screenshot('05-connected.png');
});

step('search a colleague', async () => {
  await page.locator('#colleague-query').fill('ada');
  await page.locator('#search').click();
  const ada = page.locator('#colleagues li', { hasText: 'Ada Lovelace' });
  await ada.waitFor();
  await ada.getByRole('button', { name: 'Choose Ada Lovelace' }).click();
  assert.match(await page.locator('#recipient').textContent(), /^Ada Lovelace \(ada@contoso\.test\)$/);
});

step('send a test message', async () => {
  const content = `Browser test message ${Date.now()}`;
  await page.locator('#message').fill(content);
  await page.locator('#send').click();
  await page.locator('#send-result', { hasText: 'Message sent to Ada Lovelace' }).waitFor();
  await screenshot('06-message-sent.png');

  const response = await context.request.get(BASE_URL + '/_ms/_admin/messages');
  assert.equal(response.status(), 200);
  const body = JSON.stringify(await response.json());
  assert.ok(body.includes(content), `the emulator received no message with content ${JSON.stringify(content)}`);
});

step('disconnect', async () => {
  await page.locator('#disconnect').click();
  await expectStatus('Not connected');
  await page.locator('#notice', { hasText: 'disconnected' }).waitFor();
  assert.equal(await page.locator('#messaging').isVisible(), false, 'the messaging section is still visible');
  assert.equal(await page.locator('#account').isVisible(), false, 'the account is still shown');
  await screenshot('07-disconnected.png');
});

step('GraphiQL runs a query offline', async () => {
  const response = await page.goto(BASE_URL + '/playground');
  assert.match(response.headers()['content-security-policy'] || '', /script-src 'self'/);
  await page.locator('.graphiql-container').waitFor();
  await page.getByText('Bearer ey', { exact: false }).first().waitFor();
  await page.locator('.graphiql-execute-button').click();
  await page.locator('.result-window', { hasText: '"DISCONNECTED"' }).waitFor();
  await screenshot('08-graphiql.png');

  // The settings dialog inserts a <style> element, which the CSP allows
  // only with the response's nonce.
  await page.getByRole('button', { name: 'Open settings dialog' }).click();
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
});

step('nothing left the origin or broke the CSP', async () => {
  assert.deepEqual(offOrigin, [], 'requests to other origins');
  assert.deepEqual(cspViolations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
});
