// Speech as it arrives: the relay's stream (POST /v1/tts/stream as SSE, or GET /v1/tts/ws) played on a
// WebAudioContext, each chunk scheduled on the audio clock right where the previous one ends (gapless: never
// chained on `onended`), subtitles shown when their audio starts. Two transports:
// - 'chunked': wx.request({ enableChunked: true }) + RequestTask.onChunkReceived (base library 2.20.1, an HTTPS
//   domain; wx.request gives up after 60 s at most);
// - 'socket': wx.connectSocket (header auth), or wx.cloud.connectContainer on Cloud Hosting (2.21.1), where
//   callContainer passes no chunked or SSE response. In iOS high-performance mode connectContainer drops the
//   identity headers, so the first message may carry a token.
// `wx`, the audio context and the clock are injected: Node's test runner drives the same code against the real
// server. The server escapes every non-ASCII character in its JSON, so bytes decode without TextDecoder.
const { ApiError } = require('./errors');

const RATE = 24000;
const MIN_CHUNKED = '2.20.1';
const MIN_WEBAUDIO = '2.19.0';
const MIN_CONNECT_CONTAINER = '2.21.1';

function versionAtLeast(version, wanted) {
  const a = String(version || '0').split('.').map(Number);
  const b = wanted.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] || 0) !== b[i]) return (a[i] || 0) > b[i];
  }
  return true;
}

// Which transport this phone and deployment can stream over, or null (play the file instead).
function chooseTransport({ sdkVersion, cloudHosting = false, socketUrl = '' }) {
  if (!versionAtLeast(sdkVersion, MIN_WEBAUDIO)) return null;
  if (cloudHosting) return versionAtLeast(sdkVersion, MIN_CONNECT_CONTAINER) ? 'socket' : null;
  if (versionAtLeast(sdkVersion, MIN_CHUNKED)) return 'chunked';
  return socketUrl ? 'socket' : null;
}

function ascii(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Uint8Array(128);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

function base64Bytes(text) {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor(clean.length * 3 / 4));
  let bits = 0; let value = 0; let at = 0;
  for (let i = 0; i < clean.length; i++) {
    value = (value << 6) | B64_INDEX[clean.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) { bits -= 8; out[at++] = (value >> bits) & 0xff; }
  }
  return out;
}

// SSE over arbitrary chunk boundaries: `push(ArrayBuffer)` calls onEvent(type, data) for each whole event.
function createSseParser(onEvent) {
  let pending = '';
  return {
    push(buffer) {
      pending += ascii(new Uint8Array(buffer));
      let cut;
      while ((cut = pending.indexOf('\n\n')) >= 0) {
        const block = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        let type = 'message'; let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(type, JSON.parse(data));
      }
    },
  };
}

// Gapless playback of s16le chunks. `now()` is the audio clock in seconds (ctx.currentTime); `later(fn, ms)`
// runs subtitles at their times (setTimeout).
function createPlayer(ctx, { lead = 0.1, onSubtitle = () => {}, later = setTimeout } = {}) {
  let at = null;
  let carry = null; // an odd byte left by a transport that split a sample
  const stats = { chunks: 0, seams: 0, underruns: 0, seconds: 0, starts: [] };
  const when = () => (at === null ? ctx.currentTime + lead : at);
  return {
    stats,
    play(buffer) {
      let bytes = new Uint8Array(buffer);
      if (carry) { const joined = new Uint8Array(bytes.length + 1); joined[0] = carry[0]; joined.set(bytes, 1); bytes = joined; carry = null; }
      if (bytes.length % 2) { carry = bytes.slice(-1); bytes = bytes.subarray(0, bytes.length - 1); }
      const n = bytes.length / 2;
      if (!n) return;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const audio = ctx.createBuffer(1, n, RATE);
      const channel = audio.getChannelData(0);
      for (let i = 0; i < n; i++) channel[i] = view.getInt16(2 * i, true) / 32768;
      if (at === null) at = ctx.currentTime + lead;
      else if (at < ctx.currentTime) { stats.underruns++; at = ctx.currentTime + 0.02; } else stats.seams++;
      const source = ctx.createBufferSource();
      source.buffer = audio;
      source.connect(ctx.destination);
      source.start(at);
      stats.starts.push(at);
      at += n / RATE;
      stats.chunks++;
      stats.seconds += n / RATE;
    },
    // a segment's text, shown when the audio after it starts playing
    subtitle(text) {
      const start = when();
      later(() => onSubtitle(text), Math.max(0, (start - ctx.currentTime) * 1000));
    },
    // seconds until everything scheduled has played
    remaining() { return at === null ? 0 : Math.max(0, at - ctx.currentTime); },
    played() { return at === null ? 0 : Math.max(0, stats.seconds - (at - ctx.currentTime)); },
  };
}

function toError(data, status) {
  return new ApiError(data.code || `http_${status}`, data.message, data.status || status, Number(data.retry_after || 0));
}

// One request over 'chunked' HTTP (SSE): resolves { done } or { queued }; rejects with ApiError, with
// `midway: true` when audio had already started.
function streamChunked({ wx, url, header, body, player, onEvent = () => {} }) {
  return new Promise((resolve, reject) => {
    let started = false; let finished = false; let status = 0; let sse = false; const errorBody = [];
    const finish = (fn, value) => { if (!finished) { finished = true; fn(value); } };
    const parser = createSseParser((type, data) => {
      onEvent(type, data);
      if (type === 'audio') { started = true; player.play(base64Bytes(data.audio).buffer); }
      else if (type === 'segment') player.subtitle(data.text);
      else if (type === 'done') finish(resolve, { done: data });
      else if (type === 'error') finish(reject, Object.assign(toError(data, data.status), { midway: started }));
    });
    const task = wx.request({
      url: `${url}/v1/tts/stream?stream_format=sse`, method: 'POST', data: body, timeout: 60000,
      header: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...header },
      enableChunked: true, responseType: 'arraybuffer',
      success: (res) => {
        status = res.statusCode || status;
        if (!sse) { // a JSON answer: an error before any byte, or 202 with a job to poll
          const text = errorBody.length ? errorBody.join('') : ascii(new Uint8Array(res.data || new ArrayBuffer(0)));
          let data = {};
          try { data = JSON.parse(text || '{}'); } catch (e) { data = {}; }
          if (status === 202) finish(resolve, { queued: data });
          else finish(reject, toError(data.error || {}, status));
        } else finish(reject, Object.assign(new ApiError('network_error'), { midway: started })); // cut short
      },
      fail: () => finish(reject, Object.assign(new ApiError('network_error'), { midway: started })),
    });
    task.onHeadersReceived((res) => {
      status = res.statusCode;
      const type = (res.header || {})['Content-Type'] || (res.header || {})['content-type'] || '';
      sse = type.indexOf('text/event-stream') === 0;
    });
    task.onChunkReceived((res) => {
      if (sse) parser.push(res.data); else errorBody.push(ascii(new Uint8Array(res.data)));
    });
  });
}

// One request over a WebSocket: JSON text messages for events, binary messages for audio.
function streamSocket({ openSocket, body, token = '', player, onEvent = () => {} }) {
  // wx.connectSocket returns its SocketTask; wx.cloud.connectContainer a promise of { socketTask }
  return Promise.resolve(openSocket()).then((opened) => socketSession(opened.socketTask || opened, body, token,
    player, onEvent));
}

function socketSession(socket, body, token, player, onEvent) {
  return new Promise((resolve, reject) => {
    let started = false; let finished = false;
    const finish = (fn, value) => {
      if (finished) return;
      finished = true;
      try { socket.close({}); } catch (e) { /* already closed */ }
      fn(value);
    };
    socket.onOpen(() => socket.send({ data: JSON.stringify(token ? { ...body, token } : body) }));
    socket.onMessage(({ data }) => {
      if (typeof data !== 'string') { started = true; player.play(data); return; }
      const event = JSON.parse(data);
      onEvent(event.type, event);
      if (event.type === 'segment') player.subtitle(event.text);
      else if (event.type === 'done') finish(resolve, { done: event });
      else if (event.type === 'queued') finish(resolve, { queued: event });
      else if (event.type === 'error') finish(reject, Object.assign(toError(event, event.status), { midway: started }));
    });
    socket.onError(() => finish(reject, Object.assign(new ApiError('network_error'), { midway: started })));
    socket.onClose(() => finish(reject, Object.assign(new ApiError('network_error'), { midway: started })));
  });
}

module.exports = {
  RATE, chooseTransport, versionAtLeast, createSseParser, createPlayer, base64Bytes, streamChunked, streamSocket,
};

// Speak a text: streamed where the phone and the deployment allow, else (or when a stream fails, even midway)
// the finished file from POST /v1/tts, played on from where the stream's audio ends. `playFile(url, fromSeconds,
// afterSeconds)` plays a URL (an InnerAudioContext in the page) from a position, once what was already
// scheduled has played. Resolves { mode: 'stream' | 'file', result }.
async function speak({ api, transport, text, options = {}, open, player, playFile, onEvent }) {
  const body = { text, voice_id: options.voiceId || 'default', format: options.format || 'mp3' };
  if (options.instruct) body.instruct = options.instruct;
  if (options.speed) body.speed = options.speed;
  const fromFile = async (at = 0, after = 0) => {
    const result = await api.synthesize(text, { ...options, voiceId: body.voice_id, format: body.format });
    playFile(result.audio_url, at, after);
    return { mode: 'file', result };
  };
  if (!transport) return fromFile();
  try {
    const outcome = transport === 'chunked'
      ? await streamChunked({ ...open, body, player, onEvent })
      : await streamSocket({ ...open, body, player, onEvent });
    if (outcome.queued) return fromFile(); // the endpoint is starting: the job's file when it is ready
    return { mode: 'stream', result: outcome.done };
  } catch (error) {
    if (error.midway || error.code === 'network_error') return fromFile(player.stats.seconds, player.remaining());
    throw error;
  }
}

// What the page needs, wired for this phone and deployment: the transport, how to open it, a player.
function createStreaming({ wx, api, config }) {
  const sdkVersion = (wx.getAppBaseInfo ? wx.getAppBaseInfo() : wx.getSystemInfoSync()).SDKVersion;
  const socketUrl = config.socketUrl || (api.base ? api.base.replace(/^http/, 'ws') + '/v1/tts/ws' : '');
  const transport = config.streaming === false ? null
    : chooseTransport({ sdkVersion, cloudHosting: api.useCloud, socketUrl });
  return {
    transport,
    async open() {
      const header = await api.authHeader();
      if (transport === 'chunked') return { wx, url: api.base, header };
      if (api.useCloud) {
        return { token: await api.socketToken(), openSocket: () => wx.cloud.connectContainer({
          config: { env: config.cloudEnv }, service: config.cloudService, path: '/v1/tts/ws' }) };
      }
      return { openSocket: () => wx.connectSocket({ url: socketUrl, header }) };
    },
    player(onSubtitle) {
      return createPlayer(wx.createWebAudioContext(), { onSubtitle });
    },
  };
}

module.exports.speak = speak;
module.exports.createStreaming = createStreaming;
