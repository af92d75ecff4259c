// Where the backend lives.
// - dev: true talks to the `make run` stack on this computer (http://127.0.0.1:8080), no login: in WeChat
//   DevTools tick 详情 → 本地设置 → 不校验合法域名. Never ship with dev: true.
// - baseUrl: your deployed API (add it to the request, uploadFile and downloadFile domains, and the storage or
//   CDN host that audio_url points at to the downloadFile domains).
// - cloudEnv + cloudService: WeChat Cloud Hosting; requests go through wx.cloud.callContainer and the platform
//   supplies the user's identity (no login round trip).
// - streaming: speech plays as it is made (lib/stream.js picks chunked HTTP on base library 2.20.1+, else the
//   WebSocket `socketUrl` (default: baseUrl's /v1/tts/ws as wss://; add it to the socket domains), or
//   connectContainer on Cloud Hosting); false always waits for the finished file.
module.exports = {
  dev: false,
  streaming: true,
  socketUrl: '',     // e.g. 'wss://your-api.example.com/v1/tts/ws' (an API Gateway WebSocket on Tencent SCF)
  baseUrl: 'https://your-api.example.com',
  cloudEnv: '',      // e.g. 'prod-1a2b3c'
  cloudService: '',  // the Cloud Hosting service name
};
