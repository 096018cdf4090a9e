/*
 * goim.js: a browser client for goim-c (and goim v2), one ES module with no dependencies.
 *
 * logic serves it at /client/goim.js. Use it from a page:
 *
 *   import { GoimClient } from '/client/goim.js';
 *   const client = new GoimClient({ mid: 123, room: 'live://1000', accepts: [1000, 1001] });
 *   client.addEventListener('message', (e) => console.log(e.detail.op, e.detail.text));
 *   client.addEventListener('online', (e) => console.log('in the room:', e.detail.count));
 *   client.connect();
 *   await client.changeRoom('live://2000');   // resolves on the server's reply
 *   await client.sub([1002]);                 // also receive pushes with operation 1002
 *   client.close();                           // for good: no reconnect
 *
 * What it does:
 * - Discovery: GET <api>/goim/nodes/weighted?platform=<platform> gives the comet nodes (tried in
 *   order), the WebSocket ports (ws_port, or wss_port when `secure`), the heartbeat interval and
 *   the reconnect backoff. `nodes` in the options replaces the node list (ports and the rest
 *   still come from discovery; when discovery cannot be reached, as from another origin
 *   without CORS, goim's ports 3102/3103 or the node's own "host:port").
 * - goim's protocol over WebSocket (path /sub, binary messages): 16-byte big-endian header
 *   (packet length, header length 16, version 1, operation, sequence), auth (op 7) with
 *   {mid, key, room_id, platform, accepts}, auth reply (op 8), heartbeat (op 2) every `heartbeat`
 *   seconds with the room's online count in its reply (op 3, a 4-byte body), pushes wrapped in
 *   OpRaw (op 9: back-to-back frames in one message), change room (op 12/13), sub/unsub of
 *   operations (op 14/15, 16/17; a comma list of numbers).
 * - Reconnect after a lost connection, a failed node list or a heartbeat reply missing for
 *   over an interval, with
 *   discovery's backoff (gRPC style: min(base_delay x factor^n, max_delay) seconds, spread by
 *   +/- jitter), asking discovery again each time, so it moves to another comet when its own is
 *   gone. The current room and operations are kept across reconnects.
 *
 * Events (a CustomEvent; the data is in event.detail; client.on(name, fn) is a shortcut):
 *   open     {url}                        a WebSocket to a comet opened (auth is sent next)
 *   auth     {url, node, room}            the comet accepted the auth: connected
 *   message  {op, seq, ver, body, text}   a pushed message (body: Uint8Array, text: UTF-8)
 *   online   {count, room}                the heartbeat reply's online count of the room
 *   close    {url, code, reason, authenticated}   the WebSocket closed
 *   reconnect {delay, attempt}            the next try is in `delay` ms
 *   error    {error}                      discovery failed, a node refused, a bad frame
 *
 * Options (all optional): api (logic's base URL; default: where this module was loaded from),
 * mid (number or decimal string), key, room ("<type>://<id>"), accepts (operations),
 * platform ("web"), secure (wss; default: the page is https), nodes (host names to use instead
 * of discovery's), path ("/sub"), connectTimeout (ms to open and authenticate on one node,
 * default 10000), reconnect (default true), WebSocket and fetch (to run it outside a browser).
 *
 * The frame codec is exported too: encodeFrame, decodeFrame, splitFrames, decodeMessage.
 */

/** Bytes of goim's frame header. */
export const HEADER_LENGTH = 16;
/** Largest body comet accepts from a client. */
export const MAX_CLIENT_BODY = 4096;

/** goim's operation codes. */
export const Op = Object.freeze({
    HANDSHAKE: 0,
    HANDSHAKE_REPLY: 1,
    HEARTBEAT: 2,
    HEARTBEAT_REPLY: 3,
    SEND_MSG: 4,
    SEND_MSG_REPLY: 5,
    DISCONNECT_REPLY: 6,
    AUTH: 7,
    AUTH_REPLY: 8,
    RAW: 9,
    CHANGE_ROOM: 12,
    CHANGE_ROOM_REPLY: 13,
    SUB: 14,
    SUB_REPLY: 15,
    UNSUB: 16,
    UNSUB_REPLY: 17,
});

/** A frame that does not follow goim's layout. */
export class FrameError extends Error {
    constructor(message) {
        super(message);
        this.name = 'FrameError';
    }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** Bytes of a body given as a string (UTF-8), a Uint8Array, an ArrayBuffer or nothing. */
function toBytes(body) {
    if (body === undefined || body === null) return new Uint8Array(0);
    if (typeof body === 'string') return encoder.encode(body);
    if (body instanceof Uint8Array) return body;
    if (body instanceof ArrayBuffer) return new Uint8Array(body);
    if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    throw new TypeError('a frame body is a string, a Uint8Array or an ArrayBuffer');
}

/**
 * One goim frame: 16-byte header (packet length, 16, ver, op, seq; big-endian) + body.
 * Returns a new Uint8Array.
 */
export function encodeFrame(op, body, seq = 0, ver = 1) {
    const bytes = toBytes(body);
    const frame = new Uint8Array(HEADER_LENGTH + bytes.length);
    const view = new DataView(frame.buffer);
    view.setInt32(0, frame.length);
    view.setInt16(4, HEADER_LENGTH);
    view.setInt16(6, ver);
    view.setInt32(8, op);
    view.setInt32(12, seq);
    frame.set(bytes, HEADER_LENGTH);
    return frame;
}

/** The frame's body as text (UTF-8, invalid bytes replaced). */
export function frameText(frame) {
    return decoder.decode(frame.body);
}

/**
 * Reads the frame at offset of bytes (a Uint8Array). Returns {ver, op, seq, body, length}, body
 * a view into bytes and length the packet length. Throws FrameError when the header does not
 * fit, its header length is not 16 or its packet length runs past the end.
 */
function readFrame(bytes, offset) {
    if (bytes.length - offset < HEADER_LENGTH)
        throw new FrameError(`truncated header: ${bytes.length - offset} bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_LENGTH);
    const length = view.getInt32(0);
    const headerLength = view.getInt16(4);
    if (headerLength !== HEADER_LENGTH) throw new FrameError(`header length ${headerLength}, not 16`);
    if (length < HEADER_LENGTH || length > bytes.length - offset)
        throw new FrameError(`packet length ${length} does not fit in ${bytes.length - offset} bytes`);
    return {
        ver: view.getInt16(6),
        op: view.getInt32(8),
        seq: view.getInt32(12),
        body: bytes.subarray(offset + HEADER_LENGTH, offset + length),
        length,
    };
}

/**
 * Decodes one frame that fills data (one WebSocket message). Throws FrameError if the packet
 * length is not the message length.
 */
export function decodeFrame(data) {
    const bytes = toBytes(data);
    const frame = readFrame(bytes, 0);
    if (frame.length !== bytes.length)
        throw new FrameError(`packet length ${frame.length}, message ${bytes.length} bytes`);
    delete frame.length;
    return frame;
}

/** Splits back-to-back frames (an OpRaw body) into a list. Throws FrameError on a bad one. */
export function splitFrames(data) {
    const bytes = toBytes(data);
    const frames = [];
    for (let offset = 0; offset < bytes.length;) {
        const frame = readFrame(bytes, offset);
        offset += frame.length;
        delete frame.length;
        frames.push(frame);
    }
    return frames;
}

/** The frames of one WebSocket message: the frame itself, or the inner frames of an OpRaw. */
export function decodeMessage(data) {
    const frame = decodeFrame(data);
    return frame.op === Op.RAW ? splitFrames(frame.body) : [frame];
}

/** goim's reconnect advice when discovery gives none (logic's defaults, seconds). */
export const DEFAULT_BACKOFF = Object.freeze({ base_delay: 3, factor: 1.8, jitter: 0.3, max_delay: 300 });

/** What the client assumes when discovery cannot be asked and `nodes` are given (goim's ports). */
export const DEFAULT_DISCOVERY = Object.freeze({ ws_port: 3102, wss_port: 3103, heartbeat: 240, backoff: DEFAULT_BACKOFF });

/**
 * The delay in ms before try number attempt (0 = the first retry) with discovery's backoff
 * {base_delay, factor, jitter, max_delay} (seconds; missing fields take DEFAULT_BACKOFF's):
 * min(base x factor^attempt, max), then spread by +/- jitter x that (random() in [0, 1)).
 */
export function backoffDelay(attempt, backoff = {}, random = Math.random) {
    const pick = (name) => (Number.isFinite(backoff[name]) ? backoff[name] : DEFAULT_BACKOFF[name]);
    const base = Math.max(0, pick('base_delay'));
    const max = Math.max(base, pick('max_delay'));
    const factor = Math.max(1, pick('factor'));
    const jitter = Math.min(1, Math.max(0, pick('jitter')));
    const delay = Math.min(base * Math.pow(factor, attempt), max);
    return Math.round(1000 * delay * (1 + jitter * (random() * 2 - 1)));
}

/** "host" -> "host:port"; an IPv6 literal gets brackets; a node that has a port keeps it. */
export function nodeAddress(node, port) {
    if (/^\[.*\](:\d+)?$/.test(node) || /^[^:]+:\d+$/.test(node)) return /:\d+$/.test(node) ? node : `${node}:${port}`;
    if (node.includes(':')) return `[${node}]:${port}`;
    return `${node}:${port}`;
}

/** A comma list of operations for sub/unsub: integers only. */
function opsList(ops) {
    const list = Array.from(ops, Number);
    if (list.some((op) => !Number.isInteger(op) || op < -2147483648 || op > 2147483647))
        throw new RangeError('operations are 32-bit integers');
    return list;
}

/** A mid as JSON: a number, or a decimal string for mids past 2^53. */
function midJson(mid) {
    const text = String(mid ?? 0);
    if (!/^-?\d{1,19}$/.test(text)) throw new RangeError(`mid ${text} is not an integer`);
    return text;
}

/**
 * A goim connection that finds a comet through logic's discovery, authenticates, keeps
 * itself alive with heartbeats and reconnects. See the top of this file.
 */
export class GoimClient extends EventTarget {
    constructor(options = {}) {
        super();
        const here = import.meta.url;
        const page = globalThis.location;
        this.api = String(options.api ?? (here && /^https?:/.test(here) ? new URL(here).origin : page?.origin ?? ''));
        this.mid = midJson(options.mid);
        this.key = String(options.key ?? '');
        this.room = String(options.room ?? '');
        this.accepts = new Set(opsList(options.accepts ?? []));
        this.platform = String(options.platform ?? 'web');
        this.secure = options.secure ?? page?.protocol === 'https:';
        this.nodes = options.nodes ? Array.from(options.nodes, String) : null;
        this.path = String(options.path ?? '/sub');
        this.connectTimeout = options.connectTimeout ?? 10000;
        this.reconnect = options.reconnect ?? true;
        this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
        this.fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
        /** idle, discovering, connecting, open, waiting (to reconnect), closed. */
        this.state = 'idle';
        /** Online count of the room from the last heartbeat reply (null before the first). */
        this.online = null;
        /** ws(s)://... of the comet while connected. */
        this.url = null;
        this.discovery = null;
        this._attempt = 0;
        this._seq = 0;
        this._socket = null;
        this._timer = null;
        this._heartbeatTimer = null;
        this._heartbeatPending = false;
        this._pending = new Map();
        this._generation = 0;
    }

    /** Adds a listener for event name; returns a function that removes it. */
    on(name, listener) {
        const wrapped = (event) => listener(event.detail, event);
        this.addEventListener(name, wrapped);
        return () => this.removeEventListener(name, wrapped);
    }

    /** Starts connecting (discovery, then the nodes in order). Does nothing if already started. */
    connect() {
        if (this.state !== 'idle' && this.state !== 'closed') return;
        this._closing = false;
        this._attempt = 0;
        this._cycle(++this._generation);
    }

    /** Closes the connection for good: no reconnect. Pending requests are rejected. */
    close() {
        this._closing = true;
        this._generation++;
        clearTimeout(this._timer);
        this._stopHeartbeat();
        const socket = this._socket;
        this._socket = null;
        this._rejectPending(new Error('client closed'));
        if (socket) {
            socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
            socket.close(1000, 'client closed');
            this._emit('close', { url: this.url, code: 1000, reason: 'client closed', authenticated: this.state === 'open' });
        }
        this.url = null;
        this.state = 'closed';
    }

    /** Moves to room ("" leaves every room). Resolves with the room when comet has replied. */
    async changeRoom(room) {
        const name = String(room ?? '');
        await this._request(Op.CHANGE_ROOM, name);
        this.room = name;
        this.online = null;
        this._heartbeat(); // the new room's online count
        return name;
    }

    /** Also receive pushes (by mid, key, all) with these operations. Resolves on the reply. */
    async sub(ops) {
        const list = opsList(ops);
        await this._request(Op.SUB, list.join(','));
        list.forEach((op) => this.accepts.add(op));
        return [...this.accepts];
    }

    /** Stop receiving pushes with these operations. Resolves on the reply. */
    async unsub(ops) {
        const list = opsList(ops);
        await this._request(Op.UNSUB, list.join(','));
        list.forEach((op) => this.accepts.delete(op));
        return [...this.accepts];
    }

    _emit(name, detail) {
        this.dispatchEvent(new CustomEvent(name, { detail }));
    }

    _nextSeq() {
        this._seq = this._seq >= 0x7fffffff ? 1 : this._seq + 1;
        return this._seq;
    }

    /** Sends op with body and resolves when the reply with the same sequence arrives. */
    _request(op, body) {
        const bytes = toBytes(body);
        if (bytes.length > MAX_CLIENT_BODY) return Promise.reject(new RangeError(`body over ${MAX_CLIENT_BODY} bytes`));
        if (this.state !== 'open' || !this._socket) return Promise.reject(new Error('not connected'));
        const seq = this._nextSeq();
        return new Promise((resolve, reject) => {
            this._pending.set(seq, { op: op + 1, resolve, reject });
            this._socket.send(encodeFrame(op, bytes, seq));
        });
    }

    _rejectPending(error) {
        const pending = [...this._pending.values()];
        this._pending.clear();
        pending.forEach((request) => request.reject(error));
    }

    /** Asks discovery, then tries its nodes; on failure waits (backoff) and starts over. */
    async _cycle(generation) {
        this.state = 'discovering';
        let discovery = this.discovery;
        try {
            discovery = await this._discover();
            this.discovery = discovery;
        } catch (error) {
            this._emit('error', { error });
            // Without an answer: the last one, or goim's defaults for the nodes given.
            discovery ??= this.nodes ? DEFAULT_DISCOVERY : null;
            if (!discovery) return this._retry(generation);
        }
        if (generation !== this._generation) return;
        const port = this.secure ? discovery.wss_port : discovery.ws_port;
        const nodes = this.nodes ?? discovery.nodes ?? [];
        for (const node of nodes) {
            if (generation !== this._generation) return;
            const url = `${this.secure ? 'wss' : 'ws'}://${nodeAddress(node, port)}${this.path}`;
            if (await this._open(url, node, generation)) return;
        }
        if (generation === this._generation) this._retry(generation);
    }

    async _discover() {
        if (!this.fetch) throw new Error('no fetch: pass options.fetch');
        const url = `${this.api}/goim/nodes/weighted?platform=${encodeURIComponent(this.platform)}`;
        const response = await this.fetch(url, { cache: 'no-store' });
        const envelope = await response.json();
        if (!response.ok || envelope.code !== 0 || !envelope.data)
            throw new Error(`discovery ${url}: HTTP ${response.status} code ${envelope.code} ${envelope.message ?? ''}`);
        return envelope.data;
    }

    _retry(generation) {
        if (generation !== this._generation || this._closing || !this.reconnect) {
            if (!this._closing) this.state = 'closed';
            return;
        }
        const delay = backoffDelay(this._attempt, this.discovery?.backoff);
        this._emit('reconnect', { delay, attempt: ++this._attempt });
        this.state = 'waiting';
        clearTimeout(this._timer);
        this._timer = setTimeout(() => this._cycle(generation), delay);
    }

    /**
     * Opens url and authenticates. Resolves true once authenticated (the socket then lives on
     * and reconnects by itself when lost), false if it failed before (try the next node).
     */
    _open(url, node, generation) {
        return new Promise((resolve) => {
            let socket;
            this.state = 'connecting';
            try {
                socket = new this.WebSocket(url);
            } catch (error) {
                this._emit('error', { error, url });
                resolve(false);
                return;
            }
            socket.binaryType = 'arraybuffer';
            this._socket = socket;
            let authenticated = false;
            let settled = false;
            const settle = (value) => {
                if (!settled) {
                    settled = true;
                    clearTimeout(deadline);
                    resolve(value);
                }
            };
            const deadline = setTimeout(() => {
                if (generation !== this._generation) return settle(false); // closed meanwhile
                this._emit('error', { error: new Error(`no auth reply from ${url} in ${this.connectTimeout} ms`), url });
                socket.close();
                settle(false);
            }, this.connectTimeout);
            socket.onopen = () => {
                this._emit('open', { url });
                const auth = `{"mid":${this.mid},"key":${JSON.stringify(this.key)},"room_id":${JSON.stringify(this.room)},` +
                    `"platform":${JSON.stringify(this.platform)},"accepts":${JSON.stringify([...this.accepts])}}`;
                socket.send(encodeFrame(Op.AUTH, auth, this._nextSeq()));
            };
            socket.onmessage = (event) => {
                let frames;
                try {
                    frames = decodeMessage(event.data);
                } catch (error) {
                    this._emit('error', { error, url });
                    socket.close(4002, 'bad frame');
                    return;
                }
                for (const frame of frames) {
                    if (!authenticated && frame.op === Op.AUTH_REPLY) {
                        authenticated = true;
                        this._attempt = 0;
                        this.state = 'open';
                        this.url = url;
                        settle(true);
                        this._emit('auth', { url, node, room: this.room });
                        this._startHeartbeat(socket);
                    } else {
                        this._onFrame(frame);
                    }
                }
            };
            socket.onerror = () => {
                this._emit('error', { error: new Error(`WebSocket error on ${url}`), url });
            };
            socket.onclose = (event) => {
                if (this._socket === socket) this._socket = null;
                this._stopHeartbeat();
                this._rejectPending(new Error('connection closed'));
                this._emit('close', { url, code: event.code, reason: event.reason, authenticated });
                if (authenticated) {
                    this.url = null;
                    if (generation === this._generation) this._retry(generation);
                }
                settle(false);
            };
        });
    }

    _onFrame(frame) {
        const request = this._pending.get(frame.seq);
        if (request && request.op === frame.op) {
            this._pending.delete(frame.seq);
            request.resolve(frame);
            return;
        }
        if (frame.op === Op.HEARTBEAT_REPLY) {
            this._heartbeatPending = false;
            if (frame.body.length >= 4) {
                this.online = new DataView(frame.body.buffer, frame.body.byteOffset, 4).getInt32(0);
                this._emit('online', { count: this.online, room: this.room });
            }
            return;
        }
        this._emit('message', { op: frame.op, seq: frame.seq, ver: frame.ver, body: frame.body, text: frameText(frame) });
    }

    /** Sends a heartbeat at once, then every discovery.heartbeat seconds (default 240). */
    _startHeartbeat(socket) {
        this._stopHeartbeat();
        const seconds = Number(this.discovery?.heartbeat) > 0 ? Number(this.discovery.heartbeat) : 240;
        this._heartbeat();
        let waited = 0; // intervals a heartbeat has waited for its reply
        this._heartbeatTimer = setInterval(() => {
            if (this._heartbeatPending && ++waited < 2) return; // maybe one sent late (a room change)
            if (this._heartbeatPending) {
                // No reply for over a whole interval: the connection is dead; reconnect.
                this._emit('error', { error: new Error(`no heartbeat reply in ${seconds} s`), url: this.url });
                socket.close(4000, 'heartbeat timeout');
                return;
            }
            waited = 0;
            this._heartbeat();
        }, seconds * 1000);
    }

    _heartbeat() {
        if (this.state !== 'open' || !this._socket) return;
        this._heartbeatPending = true;
        this._socket.send(encodeFrame(Op.HEARTBEAT, null, this._nextSeq()));
    }

    _stopHeartbeat() {
        clearInterval(this._heartbeatTimer);
        this._heartbeatTimer = null;
        this._heartbeatPending = false;
    }
}
