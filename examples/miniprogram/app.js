const config = require('./config');
const { createApi } = require('./lib/api');

App({
  onLaunch() {
    if (config.cloudEnv && wx.cloud) {
      wx.cloud.init({ env: config.cloudEnv });
    }
    this.api = createApi({ wx, ...config });
  },
});
