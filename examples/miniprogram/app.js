const config = require('./config');
const { createApi } = require('./lib/api');
const { createStreaming } = require('./lib/stream');

App({
  onLaunch() {
    if (config.cloudEnv && !config.dev && wx.cloud) {
      wx.cloud.init({ env: config.cloudEnv });
    }
    this.api = createApi({ wx, ...config });
    this.streaming = createStreaming({ wx, api: this.api, config });
  },
});
