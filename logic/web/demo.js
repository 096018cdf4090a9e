/*
 * demo.js: the demo page (index.html). Connects a GoimClient as the form says, shows the
 * messages, pushes through logic's HTTP API (same origin: /goim/push/...), and every few seconds
 * shows the cluster: comets (/goim/nodes/instances), totals (/goim/online/total) and the top
 * rooms of a type (/goim/online/top).
 *
 * The page's address may prefill the forms: ?mid=&key=&room=&accepts=&transport=ws|wss&node=
 * (a comet host to use instead of discovery's, e.g. when its names do not resolve from this
 * browser) &connect=1 (connect at once) &refresh=<seconds of the cluster view, default 3>.
 */
import { GoimClient } from '/client/goim.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const refreshSeconds = Math.max(0.5, Number(params.get('refresh')) || 3);
const MAX_LOG_ITEMS = 500; // oldest items go first past this
let client = null;
let authCount = 0;

for (const name of ['mid', 'key', 'room', 'accepts', 'transport', 'node']) {
    if (params.has(name)) $(name).value = params.get(name);
}

function clock() {
    return new Date().toLocaleTimeString([], { hour12: false });
}

/** Adds a line to the message list: kind "message" (a push) or "event" (the connection). */
function log(kind, text, attributes = {}) {
    const item = document.createElement('li');
    item.className = kind;
    for (const [name, value] of Object.entries(attributes)) item.dataset[name] = value;
    const time = document.createElement('time');
    time.textContent = clock();
    item.append(time, ' ', text);
    const list = $('messages');
    list.prepend(item);
    while (list.children.length > MAX_LOG_ITEMS) list.lastElementChild.remove();
}

function setConnected(connected) {
    $('change-room').disabled = $('sub').disabled = $('unsub').disabled = !connected;
}

function showState() {
    $('state').textContent = client ? client.state : 'idle';
    $('comet-url').textContent = client?.url ?? '-';
    $('current-room').textContent = client ? client.room || '(none)' : '-';
    $('online').textContent = client?.online ?? '-';
    $('auth-count').textContent = String(authCount);
    document.body.dataset.state = client ? client.state : 'idle';
}

function operations(text) {
    return text.split(',').map((part) => part.trim()).filter(Boolean).map(Number);
}

$('connect-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (client) client.close();
    const node = $('node').value.trim();
    try {
        client = new GoimClient({
            mid: $('mid').value.trim() || 0,
            key: $('key').value.trim(),
            room: $('room').value.trim(),
            accepts: operations($('accepts').value),
            secure: $('transport').value === 'wss',
            nodes: node ? [node] : undefined,
        });
    } catch (error) {
        log('event', `cannot connect: ${error.message}`);
        return;
    }
    client.on('open', ({ url }) => { log('event', `socket open ${url}`); showState(); });
    client.on('auth', ({ url }) => {
        authCount++;
        log('event', `authenticated on ${url}`, { event: 'auth' });
        setConnected(true);
        showState();
    });
    client.on('message', ({ op, text }) => log('message', `op ${op}: ${text}`, { op }));
    client.on('online', showState);
    client.on('close', ({ url, code, authenticated }) => {
        if (authenticated) log('event', `closed ${url} (${code})`, { event: 'close' });
        setConnected(false);
        showState();
    });
    client.on('reconnect', ({ delay }) => { log('event', `reconnecting in ${(delay / 1000).toFixed(1)} s`); showState(); });
    client.on('error', ({ error }) => log('event', `error: ${error.message}`, { event: 'error' }));
    client.connect();
    $('disconnect').disabled = false;
    showState();
});

$('disconnect').addEventListener('click', () => {
    if (client) client.close();
    $('disconnect').disabled = true;
    setConnected(false);
    log('event', 'disconnected');
    showState();
});

$('room-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const room = $('new-room').value.trim();
    try {
        await client.changeRoom(room);
        log('event', `now in room ${room || '(none)'}`, { event: 'room' });
    } catch (error) {
        log('event', `change room failed: ${error.message}`);
    }
    showState();
});

async function changeOps(method) {
    try {
        const accepts = await client[method](operations($('ops').value));
        log('event', `${method}: now accepting ${accepts.join(',') || 'nothing'}`, { event: method });
    } catch (error) {
        log('event', `${method} failed: ${error.message}`);
    }
}
$('ops-form').addEventListener('submit', (event) => { event.preventDefault(); changeOps('sub'); });
$('unsub').addEventListener('click', () => changeOps('unsub'));

$('push-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const target = $('push-target').value;
    const value = $('push-value').value.trim();
    const query = new URLSearchParams({ operation: $('push-op').value.trim() });
    if (target === 'mids' || target === 'keys') {
        for (const one of value.split(',').map((part) => part.trim()).filter(Boolean)) query.append(target, one);
    } else if (target === 'room') {
        const [type, room] = value.includes('://') ? value.split('://', 2) : ['live', value];
        query.set('type', type);
        query.set('room', room);
    }
    $('push-result').textContent = '...';
    try {
        const response = await fetch(`/goim/push/${target}?${query}`, { method: 'POST', body: $('push-body').value });
        $('push-result').textContent = `HTTP ${response.status} ${await response.text()}`;
    } catch (error) {
        $('push-result').textContent = `failed: ${error.message}`;
    }
});

$('push-target').addEventListener('change', () => {
    const target = $('push-target').value;
    if (target === 'room') $('push-value').value = client?.room || $('room').value;
    else if (target === 'mids') $('push-value').value = $('mid').value;
    else if (target === 'keys') $('push-value').value = $('key').value;
    else $('push-value').value = '';
});

$('clear').addEventListener('click', () => $('messages').replaceChildren());

/** GETs an API path and returns the envelope's data; throws on a transport or API error. */
async function apiGet(path) {
    const response = await fetch(path, { cache: 'no-store' });
    const envelope = await response.json();
    if (envelope.code !== 0) throw new Error(`${path}: ${envelope.message || envelope.code}`);
    return envelope.data;
}

function row(cells, attributes = {}) {
    const tr = document.createElement('tr');
    for (const [name, value] of Object.entries(attributes)) tr.dataset[name] = value;
    for (const cell of cells) {
        const td = document.createElement('td');
        td.textContent = String(cell);
        tr.append(td);
    }
    return tr;
}

async function refreshCluster() {
    const type = $('room-type').value.trim() || 'live';
    try {
        const [instances, total, top] = await Promise.all([
            apiGet('/goim/nodes/instances'),
            apiGet('/goim/online/total'),
            apiGet(`/goim/online/top?type=${encodeURIComponent(type)}&limit=10`),
        ]);
        $('comets').tBodies[0].replaceChildren(...(instances ?? []).map((comet) => row([
            comet.hostname, comet.metadata?.conn_count ?? '?', comet.metadata?.ip_count ?? '?',
            comet.metadata?.weight ?? '?', comet.metadata?.addrs || '-',
        ], { host: comet.hostname })));
        $('total-conns').textContent = total.conn_count;
        $('total-ips').textContent = total.ip_count;
        $('rooms').tBodies[0].replaceChildren(...(top ?? []).map((room) =>
            row([`${type}://${room.room_id}`, room.count], { room: `${type}://${room.room_id}` })));
        $('cluster-error').textContent = '';
        $('cluster-updated').textContent = `updated ${clock()}`;
    } catch (error) {
        $('cluster-error').textContent = `cluster view: ${error.message}`;
    }
}

async function refreshLoop() {
    await refreshCluster();
    setTimeout(refreshLoop, refreshSeconds * 1000);
}

showState();
refreshLoop();
if (params.get('connect') === '1') $('connect').click();
