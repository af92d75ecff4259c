// Where the backend lives.
// - dev: true talks to the `make run` stack on this computer (http://127.0.0.1:8080), no login: in WeChat
//   DevTools tick 详情 → 本地设置 → 不校验合法域名. Never ship with dev: true.
// - baseUrl: your deployed API (add it to the request, uploadFile and downloadFile domains, and the storage or
//   CDN host that audio_url points at to the downloadFile domains).
// - cloudEnv + cloudService: WeChat Cloud Hosting; requests go through wx.cloud.callContainer and the platform
//   supplies the user's identity (no login round trip).
module.exports = {
  dev: false,
  baseUrl: 'https://your-api.example.com',
  cloudEnv: '',      // e.g. 'prod-1a2b3c'
  cloudService: '',  // the Cloud Hosting service name
};
