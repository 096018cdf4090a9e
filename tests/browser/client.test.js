// client.test.js: unit tests of logic/web/goim.js under node's test runner (no browser, no
// cluster): the frame codec on hand-made bytes, the backoff, node addresses, and one client
// session against a fake WebSocket and a fake discovery.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
    backoffDelay, decodeFrame, decodeMessage, encodeFrame, FrameError, GoimClient, nodeAddress, Op, splitFrames,
} from '../../logic/web/goim.js';

/** A frame written byte by byte (independent of encodeFrame). */
function rawFrame(op, body, seq = 0, ver = 1, headerLength = 16, packetLength) {
    const bytes = Buffer.from(body);
    const header = Buffer.alloc(16);
    header.writeInt32BE(packetLength ?? 16 + bytes.length, 0);
    header.writeInt16BE(headerLength, 4);
    header.writeInt16BE(ver, 6);
    header.writeInt32BE(op, 8);
    header.writeInt32BE(seq, 12);
    return new Uint8Array(Buffer.concat([header, bytes]));
}

test('encodeFrame writes goim header and body', () => {
    const frame = encodeFrame(Op.AUTH, '{"mid":1}', 7);
    assert.deepEqual(Buffer.from(frame), Buffer.from(rawFrame(7, '{"mid":1}', 7)));
    assert.deepEqual(Buffer.from(encodeFrame(Op.HEARTBEAT, null, 3)),
        Buffer.from([0, 0, 0, 16, 0, 16, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]));
    const utf8 = encodeFrame(1000, 'héllo');
    assert.equal(new DataView(utf8.buffer).getInt32(0), 16 + 6);
});

test('decodeFrame reads one frame that fills the message', () => {
    const frame = decodeFrame(rawFrame(3, Buffer.from([0, 0, 1, 2]), 9).buffer);
    assert.equal(frame.op, Op.HEARTBEAT_REPLY);
    assert.equal(frame.seq, 9);
    assert.equal(frame.ver, 1);
    assert.deepEqual([...frame.body], [0, 0, 1, 2]);
});

test('decodeFrame refuses bad lengths', () => {
    assert.throws(() => decodeFrame(new Uint8Array(15)), FrameError);
    assert.throws(() => decodeFrame(rawFrame(8, '', 1, 1, 12)), /header length 12/);
    assert.throws(() => decodeFrame(rawFrame(8, 'abc', 1, 1, 16, 40)), /does not fit/);
    assert.throws(() => decodeFrame(rawFrame(8, 'abc', 1, 1, 16, 10)), /does not fit/);
    assert.throws(() => decodeFrame(rawFrame(8, 'abc', 1, 1, 16, 17)), /message 19 bytes/);
});

test('OpRaw unwraps back-to-back frames', () => {
    const inner = Buffer.concat([rawFrame(1000, 'one'), rawFrame(1001, ''), rawFrame(1002, 'three')]);
    const frames = decodeMessage(rawFrame(Op.RAW, inner));
    assert.deepEqual(frames.map((f) => [f.op, Buffer.from(f.body).toString()]),
        [[1000, 'one'], [1001, ''], [1002, 'three']]);
    assert.deepEqual(decodeMessage(rawFrame(Op.RAW, '')), []);
    assert.deepEqual(decodeMessage(rawFrame(Op.AUTH_REPLY, '')).map((f) => f.op), [Op.AUTH_REPLY]);
    assert.throws(() => splitFrames(Buffer.concat([rawFrame(1000, 'x'), Buffer.from([0, 0, 0])])), /truncated header/);
    assert.throws(() => decodeMessage(rawFrame(Op.RAW, rawFrame(1000, 'abc', 0, 1, 16, 99))), FrameError);
});

test('backoffDelay grows by factor up to max_delay, spread by jitter', () => {
    const backoff = { base_delay: 3, factor: 1.8, jitter: 0.3, max_delay: 300 };
    const middle = () => 0.5;
    assert.equal(backoffDelay(0, backoff, middle), 3000);
    assert.equal(backoffDelay(1, backoff, middle), 5400);
    assert.equal(backoffDelay(2, backoff, middle), 9720);
    assert.equal(backoffDelay(50, backoff, middle), 300000);
    assert.equal(backoffDelay(0, backoff, () => 0), 2100);
    assert.equal(backoffDelay(0, backoff, () => 0.999999), 3900);
    assert.equal(backoffDelay(0, {}, middle), 3000); // goim's defaults
    assert.equal(backoffDelay(0, { base_delay: 1 }, middle), 1000); // omitted fields (Go omitempty)
});

test('nodeAddress adds the port unless the node has one', () => {
    assert.equal(nodeAddress('comet-1.goim.io', 3102), 'comet-1.goim.io:3102');
    assert.equal(nodeAddress('127.0.0.1', 3102), '127.0.0.1:3102');
    assert.equal(nodeAddress('127.0.0.1:4000', 3102), '127.0.0.1:4000');
    assert.equal(nodeAddress('::1', 3103), '[::1]:3103');
    assert.equal(nodeAddress('[::1]', 3103), '[::1]:3103');
    assert.equal(nodeAddress('[::1]:9', 3103), '[::1]:9');
});

/** A WebSocket stand-in: records what is sent; the test plays the comet. */
class FakeSocket {
    static made = [];
    constructor(url) {
        this.url = url;
        this.sent = [];
        FakeSocket.made.push(this);
    }
    send(bytes) { this.sent.push(decodeFrame(bytes)); }
    close(code = 1005, reason = '') { this.closed = true; queueMicrotask(() => this.onclose?.({ code, reason })); }
    open() { this.onopen?.(); }
    receive(bytes) { this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }); }
}

const discovery = {
    domain: 'conn.goim.io', ws_port: 3102, wss_port: 3103, heartbeat: 240,
    nodes: ['dead.example', 'comet-a.example'],
    backoff: { max_delay: 300, base_delay: 3, factor: 1.8, jitter: 0.3 }, heartbeat_max: 2,
};
const fakeFetch = async (url) => {
    assert.equal(url, 'http://logic.example:3111/goim/nodes/weighted?platform=web');
    return { ok: true, status: 200, json: async () => ({ code: 0, message: '', data: discovery }) };
};
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

test('a client discovers, skips a dead node, authenticates, heartbeats and handles replies', async () => {
    FakeSocket.made = [];
    const client = new GoimClient({
        api: 'http://logic.example:3111', mid: 123, key: 'k1', room: 'live://1000', accepts: [1000, 1001],
        WebSocket: FakeSocket, fetch: fakeFetch,
    });
    const events = [];
    for (const name of ['open', 'auth', 'message', 'online', 'close', 'error'])
        client.on(name, (detail) => events.push([name, detail]));
    client.connect();
    await flush();
    assert.equal(FakeSocket.made.length, 1);
    assert.equal(FakeSocket.made[0].url, 'ws://dead.example:3102/sub');
    FakeSocket.made[0].onclose({ code: 1006, reason: '' }); // the first node refuses
    await flush();
    const socket = FakeSocket.made[1];
    assert.equal(socket.url, 'ws://comet-a.example:3102/sub');
    socket.open();
    const auth = socket.sent[0];
    assert.equal(auth.op, Op.AUTH);
    assert.deepEqual(JSON.parse(Buffer.from(auth.body).toString()),
        { mid: 123, key: 'k1', room_id: 'live://1000', platform: 'web', accepts: [1000, 1001] });
    socket.receive(rawFrame(Op.AUTH_REPLY, '', auth.seq));
    assert.equal(client.state, 'open');
    assert.equal(socket.sent[1].op, Op.HEARTBEAT); // at once, for the online count
    socket.receive(rawFrame(Op.HEARTBEAT_REPLY, Buffer.from([0, 0, 0, 42]), socket.sent[1].seq));
    assert.equal(client.online, 42);
    socket.receive(rawFrame(Op.RAW, Buffer.concat([rawFrame(1000, 'hello'), rawFrame(1001, 'world')])));

    const changed = client.changeRoom('live://2000');
    const change = socket.sent[2];
    assert.deepEqual([change.op, Buffer.from(change.body).toString()], [Op.CHANGE_ROOM, 'live://2000']);
    socket.receive(rawFrame(Op.CHANGE_ROOM_REPLY, 'live://2000', change.seq));
    assert.equal(await changed, 'live://2000');
    assert.equal(client.room, 'live://2000');
    const subscribed = client.sub([1002, 1003]);
    const sub = socket.sent.at(-1);
    assert.deepEqual([sub.op, Buffer.from(sub.body).toString()], [Op.SUB, '1002,1003']);
    socket.receive(rawFrame(Op.SUB_REPLY, '1002,1003', sub.seq));
    assert.deepEqual(await subscribed, [1000, 1001, 1002, 1003]);
    const unsubscribed = client.unsub([1000]);
    const unsub = socket.sent.at(-1);
    socket.receive(rawFrame(Op.UNSUB_REPLY, '1000', unsub.seq));
    assert.deepEqual(await unsubscribed, [1001, 1002, 1003]);

    assert.deepEqual(events.filter(([name]) => name === 'message').map(([, d]) => [d.op, d.text]),
        [[1000, 'hello'], [1001, 'world']]);
    assert.deepEqual(events.filter(([name]) => name === 'auth').map(([, d]) => d.url), ['ws://comet-a.example:3102/sub']);
    client.close();
    assert.equal(client.state, 'closed');
    assert.equal(events.at(-1)[0], 'close');
});

test('a lost connection reconnects after the backoff with the current room and operations', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    FakeSocket.made = [];
    const client = new GoimClient({
        api: 'http://logic.example:3111', mid: '9007199254740993', room: 'live://1', accepts: [1000],
        WebSocket: FakeSocket, fetch: fakeFetch, nodes: ['127.0.0.1'],
    });
    const delays = [];
    client.on('reconnect', ({ delay }) => delays.push(delay));
    client.connect();
    for (let i = 0; i < 5 && FakeSocket.made.length === 0; i++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    let socket = FakeSocket.made[0];
    assert.equal(socket.url, 'ws://127.0.0.1:3102/sub'); // options.nodes replaces discovery's
    socket.open();
    assert.match(Buffer.from(socket.sent[0].body).toString(), /^\{"mid":9007199254740993,/);
    socket.receive(rawFrame(Op.AUTH_REPLY, '', socket.sent[0].seq));
    const changed = client.changeRoom('live://2');
    socket.receive(rawFrame(Op.CHANGE_ROOM_REPLY, 'live://2', socket.sent.at(-1).seq));
    await changed;
    socket.onclose({ code: 1001, reason: 'going away' }); // the comet stopped
    assert.equal(client.state, 'waiting');
    assert.equal(delays.length, 1);
    assert.ok(delays[0] >= 2100 && delays[0] <= 3900, `delay ${delays[0]}`);
    t.mock.timers.tick(delays[0]);
    await new Promise((resolve) => setImmediate(resolve));
    socket = FakeSocket.made[1];
    assert.ok(socket, 'a new socket after the delay');
    socket.open();
    const auth = JSON.parse(Buffer.from(socket.sent[0].body).toString().replace(/"mid":\d+/, '"mid":0'));
    assert.equal(auth.room_id, 'live://2');
    client.close();
});

test('without discovery, given nodes are tried on goim\'s ports or their own', async () => {
    FakeSocket.made = [];
    const client = new GoimClient({
        api: 'http://logic.example:3111', nodes: ['comet-b.example', '127.0.0.1:4000'], secure: true,
        WebSocket: FakeSocket, fetch: async () => { throw new TypeError('Failed to fetch'); },
    });
    const errors = [];
    client.on('error', ({ error }) => errors.push(error.message));
    client.connect();
    await flush();
    assert.deepEqual(errors, ['Failed to fetch']);
    assert.equal(FakeSocket.made[0].url, 'wss://comet-b.example:3103/sub');
    FakeSocket.made[0].onclose({ code: 1006, reason: '' });
    await flush();
    assert.equal(FakeSocket.made[1].url, 'wss://127.0.0.1:4000/sub');
    client.close();
});

test('a heartbeat without a reply for over an interval closes the socket and reconnects', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    FakeSocket.made = [];
    const client = new GoimClient({ api: 'http://logic.example:3111', WebSocket: FakeSocket, fetch: fakeFetch });
    const errors = [];
    client.on('error', ({ error }) => errors.push(error.message));
    client.connect();
    await new Promise((resolve) => setImmediate(resolve));
    const socket = FakeSocket.made[0];
    socket.open();
    socket.receive(rawFrame(Op.AUTH_REPLY, '', socket.sent[0].seq));
    socket.receive(rawFrame(Op.HEARTBEAT_REPLY, Buffer.from([0, 0, 0, 1]), socket.sent[1].seq));
    t.mock.timers.tick(240 * 1000); // the next heartbeat, answered
    assert.equal(socket.sent.at(-1).op, Op.HEARTBEAT);
    socket.receive(rawFrame(Op.HEARTBEAT_REPLY, Buffer.from([0, 0, 0, 2]), socket.sent.at(-1).seq));
    t.mock.timers.tick(240 * 1000); // another, never answered
    const sent = socket.sent.length;
    t.mock.timers.tick(240 * 1000); // one interval without its reply: still waiting
    assert.equal(socket.closed, undefined);
    assert.equal(socket.sent.length, sent, 'no second heartbeat while one waits');
    t.mock.timers.tick(240 * 1000); // over an interval: dead
    assert.equal(socket.closed, true);
    assert.deepEqual(errors, ['no heartbeat reply in 240 s']);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.state, 'waiting'); // reconnects after the backoff
    client.close();
});
