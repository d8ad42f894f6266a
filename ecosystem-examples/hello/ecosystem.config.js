// The same app as ecosystem.toml, written the way PM2 users write it: nodeedge starts this
// file as is (node evaluates it, as pm2 does).
//   nodeedge start ecosystem.config.js --env production && curl http://127.0.0.1:3000/
// exec_mode "cluster" shares PORT among the instances, as PM2's cluster does: nodeedge's proxy
// listens on 0.0.0.0:3000 and the two workers run on 3001 and 3002 behind it.
module.exports = {
  apps: [{
    name: "hello",
    script: "app.js",
    instances: 2,
    exec_mode: "cluster",
    max_memory_restart: "300M",
    kill_timeout: 5000,
    env: {
      PORT: 3000,
      NODE_ENV: "development",
    },
    env_production: {
      NODE_ENV: "production",
    },
  }],
};
