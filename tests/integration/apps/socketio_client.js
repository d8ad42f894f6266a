'use strict';
// A socket.io client per local address, all with one transport, for examples_test.cpp:
//   node socketio_client.js URL websocket|polling ADDR...
// Each client binds its own loopback source address (127.0.N.1), so nodeedge's ip_hash can
// spread them over instances. It waits for the server's welcome, makes three acknowledged
// round trips (several HTTP requests per session under long-polling) and prints one JSON line:
// {addr, transport, instance, pid, client, echoes}. Exit 1 on any failure or after 20 s.
const http = require('node:http');
const { io } = require('socket.io-client');

const [url, transport, ...addrs] = process.argv.slice(2);
if (!url || !['websocket', 'polling'].includes(transport) || addrs.length === 0) {
  console.error('usage: node socketio_client.js URL websocket|polling ADDR...');
  process.exit(2);
}

setTimeout(() => {
  console.error('socketio_client: gave up after 20 s');
  process.exit(1);
}, 20000).unref();

function once(socket, event) {
  return new Promise((resolve, reject) => {
    socket.once(event, resolve);
    socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
    socket.once('disconnect', (reason) => reject(new Error(`disconnected: ${reason}`)));
  });
}

async function run(addr) {
  const socket = io(url, {
    transports: [transport],
    agent: new http.Agent({ keepAlive: true, localAddress: addr }),
    reconnection: false,
    forceNew: true,
    timeout: 5000,
  });
  try {
    const welcome = await once(socket, 'welcome');
    let echoes = 0;
    for (let i = 0; i < 3; ++i) {
      const reply = await socket.timeout(5000).emitWithAck('echo', { addr, i });
      if (reply.payload.i !== i || reply.instance !== welcome.instance)
        throw new Error(`echo ${i} answered by instance ${reply.instance}: ${JSON.stringify(reply)}`);
      ++echoes;
    }
    return {
      addr,
      transport: socket.io.engine.transport.name,
      instance: welcome.instance,
      pid: welcome.pid,
      client: welcome.client,
      echoes,
    };
  } finally {
    socket.close();
  }
}

Promise.all(addrs.map((addr) => run(addr).catch((err) => { throw new Error(`${addr}: ${err.message}`); })))
  .then((results) => {
    for (const r of results) console.log(JSON.stringify(r));
    process.exit(0);
  })
  .catch((err) => {
    console.error(`socketio_client: ${err.message}`);
    process.exit(1);
  });
