// page.test.js: the demo page (logic's /demo/) and its JavaScript client in a real headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core), against a running cluster.
//
// Started by test_browser.py (make browser-test), which starts the cluster with the integration
// harness and passes, in the environment:
//   GOIM_LOGIC_URL     http://127.0.0.1:<port> (logic: the page, the client, the API)
//   GOIM_CONTROL_URL   http://127.0.0.1:<port> (POST /restart/comet, /start/comet2, /stop/comet)
//   GOIM_COMET_HOST    the comet's host name; discovery names it <host><GOIM_HOST_DOMAIN>
//   GOIM_COMET2_HOST   the second comet's (started on request), at GOIM_COMET2_ADDRESS
//   GOIM_HOST_DOMAIN   logic's node.hostDomain; Chromium resolves *<domain> to 127.0.0.1
//   GOIM_WSS_SPKI      base64 SHA-256 of the test certificate's public key (WSS), trusted by pin
//   GOIM_ARTIFACTS     where the screenshot goes
// Every wait is bounded; nothing asserts on time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const env = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run this through tests/browser/test_browser.py (make browser-test)`);
    return value;
};
const LOGIC = env('GOIM_LOGIC_URL');
const CONTROL = env('GOIM_CONTROL_URL');
const COMET_HOST = env('GOIM_COMET_HOST');
const COMET2_HOST = env('GOIM_COMET2_HOST');
const HOST_DOMAIN = env('GOIM_HOST_DOMAIN');
const ARTIFACTS = env('GOIM_ARTIFACTS');
const WAIT = 30000; // bound of one wait for something the cluster does
const unique = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;
const mid = 100000 + Math.floor(Math.random() * 800000);
const firstRoom = `live://${unique('first')}`;
const secondRoom = `live://${unique('second')}`;

let context;
let page;
let userDataDir;

before(async () => {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goim-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
            // The comets' discovered names resolve to loopback; any other name to nothing, so the
            // browser never leaves this machine.
            `--host-resolver-rules=MAP ${COMET2_HOST}${HOST_DOMAIN} ${env('GOIM_COMET2_ADDRESS')}, ` +
                `MAP *${HOST_DOMAIN} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`,
            // The comet's WSS certificate is the test's own: trusted by its public key only.
            `--ignore-certificate-errors-spki-list=${env('GOIM_WSS_SPKI')}`,
        ],
    });
    context.setDefaultTimeout(WAIT);
    page = await openPage(`mid=${mid}&room=${encodeURIComponent(firstRoom)}&accepts=1000,1001&refresh=1`);
});

after(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

/** A new tab on the demo page with query (a URL query string), its console kept for failures. */
async function openPage(query) {
    const tab = await context.newPage();
    tab.on('console', (message) => console.log(`[page ${message.type()}] ${message.text()}`));
    tab.on('pageerror', (error) => console.log(`[page error] ${error.message}`));
    const response = await tab.goto(`${LOGIC}/demo/?${query}`);
    assert.equal(response.status(), 200);
    return tab;
}

/** Sends a push from the page's form (through logic's HTTP API) and checks the API's answer. */
async function push(tab, target, value, body, operation = 1000) {
    await tab.selectOption('#push-target', target);
    await tab.fill('#push-value', value);
    await tab.fill('#push-op', String(operation));
    await tab.fill('#push-body', body);
    await tab.evaluate(() => { document.getElementById('push-result').textContent = ''; });
    await tab.click('#push-send');
    await tab.waitForFunction(() => /^HTTP \d+ /.test(document.getElementById('push-result').textContent));
    assert.equal(await tab.textContent('#push-result'), 'HTTP 200 {"code":0,"message":""}');
}

/** Waits until the page's message list shows a message with text. */
async function received(tab, text, timeout = WAIT) {
    await tab.locator('#messages li.message', { hasText: text }).first().waitFor({ timeout });
}

async function messageCount(tab, text) {
    return tab.locator('#messages li.message', { hasText: text }).count();
}

/** Waits until the page is authenticated for the n-th time (counting reconnects). */
async function authenticated(tab, times = 1) {
    await tab.waitForFunction((n) => document.body.dataset.state === 'open' &&
        Number(document.getElementById('auth-count').textContent) >= n, times);
}

test('the page connects to the discovered comet and authenticates', async () => {
    await page.click('#connect');
    await authenticated(page);
    assert.equal(await page.textContent('#auth-count'), '1');
    const url = await page.textContent('#comet-url');
    assert.match(url, new RegExp(`^ws://${COMET_HOST}${HOST_DOMAIN.replace(/\./g, '\\.')}:\\d+/sub$`));
    assert.equal(await page.textContent('#current-room'), firstRoom);
    // The heartbeat right after the auth brings the room's online count.
    await page.waitForFunction(() => Number(document.getElementById('online').textContent) >= 1);
});

test('a push by mid, a room push and a broadcast sent through the HTTP API arrive', async () => {
    const byMid = unique('by-mid');
    await push(page, 'mids', String(mid), byMid);
    await received(page, byMid);
    const toRoom = unique('to-room');
    await push(page, 'room', firstRoom, toRoom);
    await received(page, toRoom);
    const toAll = unique('to-all');
    await push(page, 'all', '', toAll, 1001);
    await received(page, toAll);
    assert.equal(await page.locator('#messages li.message[data-op="1001"]', { hasText: toAll }).count(), 1);
});

test('after a room change only the new room\'s pushes arrive', async () => {
    // A witness stays in the first room: when it has a push, the comet has delivered it there.
    // It names its comet host itself (node=, as make run's banner does) instead of discovery.
    const witness = await openPage(`mid=${mid + 1}&room=${encodeURIComponent(firstRoom)}&node=127.0.0.1&connect=1`);
    await authenticated(witness);
    assert.match(await witness.textContent('#comet-url'), /^ws:\/\/127\.0\.0\.1:\d+\/sub$/);
    await page.fill('#new-room', secondRoom);
    await page.click('#change-room');
    await page.locator('#messages li.event[data-event="room"]', { hasText: secondRoom }).waitFor();
    assert.equal(await page.textContent('#current-room'), secondRoom);

    const oldRoom = unique('old-room');
    await push(page, 'room', firstRoom, oldRoom);
    await received(witness, oldRoom);
    // Pushed after the old room's push reached the comet: arrives after it on the same socket.
    const newRoom = unique('new-room');
    await push(page, 'room', secondRoom, newRoom);
    await received(page, newRoom);
    assert.equal(await messageCount(page, oldRoom), 0, 'a push to the room left behind arrived');
    await witness.close();
});

/** Asks the test's cluster side for action (restart/comet, start/comet2, stop/comet). */
async function control(action) {
    const response = await fetch(`${CONTROL}/${action}`, { method: 'POST' });
    assert.equal(response.status, 200, await response.text());
}

/** Pushes by mid until one push arrives (bounded): job finds a (re)started comet on its own. */
async function pushUntilReceived(tab, toMid, prefix) {
    const deadline = Date.now() + 2 * WAIT;
    for (;;) {
        const body = unique(prefix);
        await push(tab, 'mids', String(toMid), body);
        try {
            await received(tab, body, 3000);
            return;
        } catch (error) {
            if (Date.now() > deadline) throw error;
        }
    }
}

test('the page reconnects by itself after its comet restarts, and receives again', async () => {
    const before = Number(await page.textContent('#auth-count'));
    await control('restart/comet');
    await page.locator('#messages li.event[data-event="close"]').first().waitFor();
    await authenticated(page, before + 1);
    assert.equal(await page.textContent('#current-room'), secondRoom); // kept across the reconnect
    await pushUntilReceived(page, mid, 'after-restart');
    const toRoom = unique('room-after-restart');
    await push(page, 'room', secondRoom, toRoom);
    await received(page, toRoom);
});

test('a page connects over WSS with the test certificate', async () => {
    const secureMid = mid + 2;
    const secure = await openPage(`mid=${secureMid}&room=${encodeURIComponent(secondRoom)}&transport=wss&connect=1`);
    await authenticated(secure);
    assert.match(await secure.textContent('#comet-url'), /^wss:\/\//);
    const overTls = unique('over-tls');
    await push(secure, 'mids', String(secureMid), overTls);
    await received(secure, overTls);
    await secure.close();
});

test('the cluster view shows the comet, its connections and the room', async () => {
    const comet = page.locator(`#comets tbody tr[data-host="${COMET_HOST}"]`);
    await comet.waitFor();
    await page.waitForFunction((host) => {
        const row = document.querySelector(`#comets tbody tr[data-host="${host}"]`);
        return row && Number(row.children[1].textContent) >= 1;
    }, COMET_HOST);
    await page.locator(`#rooms tbody tr[data-room="${secondRoom}"]`).waitFor();
    await page.waitForFunction(() => Number(document.getElementById('total-conns').textContent) >= 1);
    assert.equal(await page.textContent('#cluster-error'), '');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-page.png'), fullPage: true });
});

test('when its comet stops for good, the page moves to another comet from discovery', async () => {
    await control('start/comet2');
    const before = Number(await page.textContent('#auth-count'));
    await control('stop/comet');
    await authenticated(page, before + 1);
    assert.match(await page.textContent('#comet-url'),
        new RegExp(`^ws://${COMET2_HOST}${HOST_DOMAIN.replace(/\./g, '\\.')}:\\d+/sub$`));
    assert.equal(await page.textContent('#current-room'), secondRoom);
    await pushUntilReceived(page, mid, 'on-comet2');
    const toRoom = unique('room-on-comet2');
    await push(page, 'room', secondRoom, toRoom);
    await received(page, toRoom);
});
