// Where the backend lives. With WeChat Cloud Hosting set cloudEnv and service: requests then go through
// wx.cloud.callContainer and the platform supplies the user's identity (no login round trip).
module.exports = {
  baseUrl: 'https://your-api.example.com', // add it to the mini program's request and uploadFile domains
  cloudEnv: '',      // e.g. 'prod-1a2b3c'
  cloudService: '',  // the Cloud Hosting service name
};
