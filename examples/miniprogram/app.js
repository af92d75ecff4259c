const config = require('./config');
const { createApi } = require('./lib/api');

App({
  onLaunch() {
    if (config.cloudEnv && !config.dev && wx.cloud) {
      wx.cloud.init({ env: config.cloudEnv });
    }
    this.api = createApi({ wx, ...config });
  },
});
