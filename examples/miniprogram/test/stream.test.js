// The streaming module: SSE parsing, gapless scheduling and subtitle timing on a fake audio clock; and, when
// STACK_URL names a running stack (the Python tests start one), real streams from it through a wx harness
// built on Node's own HTTP and WebSocket clients: the same bytes the mini program receives.
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const {
  chooseTransport, createSseParser, createPlayer, base64Bytes, streamChunked, streamSocket, speak,
} = require('../lib/stream');
const { createApi } = require('../lib/api');

function fakeAudioContext(clock) {
  const started = clock();
  return {
    get currentTime() { return clock() - started; },
    destination: {},
    createBuffer: (channels, n, rate) => { const data = new Float32Array(n); return { duration: n / rate, getChannelData: () => data }; },
    createBufferSource: () => ({ connect() {}, start(when) { this.when = when; } }),
  };
}

const realClock = () => performance.now() / 1000;

test('SSE events survive any chunk boundary', () => {
  const text = 'event: segment\ndata: {"index": 0, "text": "\\u4f60\\u597d"}\n\nevent: audio\ndata: {"audio": "AAEC"}\n\n';
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  for (const size of [1, 2, 7, 64]) {
    const events = [];
    const parser = createSseParser((type, data) => events.push([type, data]));
    for (let i = 0; i < bytes.length; i += size) parser.push(bytes.slice(i, i + size).buffer);
    assert.deepStrictEqual(events, [['segment', { index: 0, text: '你好' }], ['audio', { audio: 'AAEC' }]]);
  }
  assert.deepStrictEqual(Array.from(base64Bytes('AAEC')), [0, 1, 2]);
});

test('chunks are scheduled back to back on the audio clock, subtitles when their audio starts', () => {
  let now = 0;
  const shown = [];
  const timers = [];
  const player = createPlayer(fakeAudioContext(() => now), {
    lead: 0.1, onSubtitle: (text) => shown.push([text, now]), later: (fn, ms) => timers.push([now + ms / 1000, fn]),
  });
  player.subtitle('第一句');
  player.play(new ArrayBuffer(4800)); // 0.1 s
  player.play(new ArrayBuffer(4801)); // an odd byte: carried into the next chunk
  player.subtitle('第二句');
  player.play(new ArrayBuffer(4799));
  assert.deepStrictEqual(player.stats.starts.map((t) => Math.round(t * 1000)), [100, 200, 300]);
  assert.strictEqual(player.stats.seams, 2);
  assert.strictEqual(player.stats.underruns, 0);
  for (const [at, fn] of timers) { now = at; fn(); }
  assert.deepStrictEqual(shown.map(([t, at]) => [t, Math.round(at * 1000)]), [['第一句', 100], ['第二句', 300]]);
  now = 1.0; // the network fell behind: the next chunk starts late, and that is counted
  player.play(new ArrayBuffer(4800));
  assert.strictEqual(player.stats.underruns, 1);
});

test('the transport follows the base library and the deployment', () => {
  assert.strictEqual(chooseTransport({ sdkVersion: '3.4.0' }), 'chunked');
  assert.strictEqual(chooseTransport({ sdkVersion: '2.19.5', socketUrl: 'wss://x' }), 'socket');
  assert.strictEqual(chooseTransport({ sdkVersion: '2.19.5' }), null);
  assert.strictEqual(chooseTransport({ sdkVersion: '2.18.0', socketUrl: 'wss://x' }), null); // no WebAudioContext
  assert.strictEqual(chooseTransport({ sdkVersion: '2.21.1', cloudHosting: true }), 'socket');
  assert.strictEqual(chooseTransport({ sdkVersion: '2.20.1', cloudHosting: true }), null);
});

// -- the harness: wx on real sockets -------------------------------------------------------------------------
const STACK = process.env.STACK_URL;

// wx.request on Node's http: JSON calls, and chunked ones that hand each received piece to onChunkReceived.
// `slow`: pieces of `slow.bytes` every `slow.ms`; `cutAfter`: the connection dies after that many bytes.
function harnessWx({ slow = null, cutAfter = Infinity } = {}) {
  return {
    getStorageSync: () => '', setStorageSync() {}, removeStorageSync() {},
    request({ url, method = 'GET', data, header = {}, enableChunked, success, fail }) {
      const listeners = { headers: () => {}, chunk: () => {} };
      const body = data === undefined ? null : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
      const req = http.request(url, { method, headers: { ...header, ...(body ? { 'Content-Length': body.length } : {}) } }, (res) => {
        listeners.headers({ statusCode: res.statusCode, header: res.headers });
        const parts = [];
        let received = 0;
        let queue = Promise.resolve();
        res.on('data', (piece) => {
          if (received >= cutAfter) return;
          const allowed = piece.subarray(0, Math.max(0, cutAfter - received));
          received += allowed.length;
          parts.push(allowed);
          if (!enableChunked) return;
          const step = slow ? slow.bytes : allowed.length;
          for (let i = 0; i < allowed.length; i += step) {
            const bit = allowed.subarray(i, i + step);
            queue = queue.then(() => new Promise((r) => setTimeout(r, slow ? slow.ms : 0)))
              .then(() => listeners.chunk({ data: bit.buffer.slice(bit.byteOffset, bit.byteOffset + bit.length) }));
          }
          if (received >= cutAfter) { res.destroy(); queue.then(() => fail({ errMsg: 'request:fail' })); }
        });
        res.on('end', () => queue.then(() => {
          if (received >= cutAfter) return;
          const all = Buffer.concat(parts);
          const type = res.headers['content-type'] || '';
          const parsed = !enableChunked && type.startsWith('application/json') ? JSON.parse(all.toString()) : all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
          success({ statusCode: res.statusCode, header: res.headers, data: parsed });
        }));
      });
      req.on('error', () => fail({ errMsg: 'request:fail' }));
      if (body) req.write(body);
      req.end();
      return { onHeadersReceived: (fn) => { listeners.headers = fn; }, onChunkReceived: (fn) => { listeners.chunk = fn; } };
    },
    connectSocket({ url, header }) {
      const ws = new WebSocket(url); // Node's own client (--experimental-websocket on Node 20)
      ws.binaryType = 'arraybuffer';
      return {
        onOpen: (fn) => ws.addEventListener('open', () => fn({})),
        onMessage: (fn) => ws.addEventListener('message', (e) => fn({ data: e.data })),
        onError: (fn) => ws.addEventListener('error', () => fn({})),
        onClose: (fn) => ws.addEventListener('close', () => fn({})),
        send: ({ data }) => ws.send(data),
        close: () => ws.close(),
      };
    },
  };
}

const FIVE = '今天天气很好。我们去公园散步吧。路上有很多花。孩子们在草地上奔跑。傍晚我们一起回家。';

function measured(player, started) {
  let first = null;
  const play = player.play.bind(player);
  player.play = (buffer) => { if (first === null) first = performance.now() - started; play(buffer); };
  return () => first;
}

test('chunked: a real stream plays gapless, with subtitles, over a slow network', { skip: !STACK }, async () => {
  const shown = [];
  const ctx = fakeAudioContext(realClock);
  const player = createPlayer(ctx, { onSubtitle: (t) => shown.push([t, ctx.currentTime]) });
  const started = performance.now();
  const first = measured(player, started);
  const { done } = await streamChunked({
    wx: harnessWx({ slow: { bytes: 4096, ms: 2 } }), url: STACK, header: {}, player,
    body: { text: FIVE + `（${Date.now()}）`, voice_id: 'default' },
  });
  assert.strictEqual(done.status, 'done');
  assert.ok(player.stats.chunks > 3 && player.stats.underruns === 0 && player.stats.seams === player.stats.chunks - 1);
  assert.ok(Math.abs(player.stats.seconds - done.duration_s) < 0.01, `${player.stats.seconds} vs ${done.duration_s}`);
  // the subtitle appears when its speech starts playing: after the AIGC cue (1.4 s) that opens the audio
  for (let i = 0; i < 40 && !shown.length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(shown[0] && shown[0][0].startsWith('今天天气很好'), JSON.stringify(shown));
  assert.ok(Math.abs(shown[0][1] - (player.stats.starts[0] + 1.4)) < 0.1, `shown at ${shown[0][1]}`);
  console.log(`first audio chunked ${first().toFixed(0)} ms, done ${(performance.now() - started).toFixed(0)} ms`);
});

test('socket: a real stream over the WebSocket endpoint', { skip: !STACK }, async () => {
  const player = createPlayer(fakeAudioContext(realClock));
  const started = performance.now();
  const first = measured(player, started);
  const wx = harnessWx();
  const { done } = await streamSocket({
    openSocket: () => wx.connectSocket({ url: STACK.replace(/^http/, 'ws') + '/v1/tts/ws' }), player,
    body: { text: FIVE + `（${Date.now()}）`, voice_id: 'default' },
  });
  assert.strictEqual(done.status, 'done');
  assert.ok(player.stats.underruns === 0 && Math.abs(player.stats.seconds - done.duration_s) < 0.01);
  console.log(`first audio socket ${first().toFixed(0)} ms, done ${(performance.now() - started).toFixed(0)} ms`);
});

test('a stream cut in the middle falls back to the file, played on from where the stream stopped', { skip: !STACK }, async () => {
  const wx = harnessWx({ cutAfter: 150000 }); // past the cue and some speech, well before the end
  const api = createApi({ wx: harnessWx(), dev: true, devBaseUrl: STACK, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  const player = createPlayer(fakeAudioContext(realClock));
  const files = [];
  const outcome = await speak({
    api, transport: 'chunked', text: FIVE + FIVE + `（${Date.now()}）`, open: { wx, url: STACK, header: {} }, player,
    playFile: (url, from, after) => files.push([url, from, after]),
  });
  assert.strictEqual(outcome.mode, 'file');
  assert.ok(player.stats.seconds > 0, 'some audio played before the cut');
  assert.strictEqual(files.length, 1);
  assert.ok(files[0][0].includes('/media/') && files[0][1] === player.stats.seconds);
});

test('an error before any audio is the error, not a fallback', { skip: !STACK }, async () => {
  const player = createPlayer(fakeAudioContext(realClock));
  await assert.rejects(streamChunked({ wx: harnessWx(), url: STACK, header: {}, player, body: { text: '', voice_id: 'default' } }),
    (e) => e.status === 400 && !e.midway);
});
