'use strict';
// A gRPC server on PORT (plain HTTP/2, as behind nodeedge's `grpc = true`): every kind of
// call, each answer carrying the worker's pid; Fail answers INVALID_ARGUMENT with a trailer.
const { grpc, Echo } = require('./grpc_service');

const pid = process.pid;
const server = new grpc.Server();
server.addService(Echo.service, {
  Unary(call, done) {
    done(null, { text: call.request.text, n: call.request.n, pid });
  },
  ServerStream(call) {
    for (let i = 0; i < call.request.n; i++) call.write({ text: call.request.text, n: i, pid });
    call.end();
  },
  ClientStream(call, done) {
    const texts = [];
    call.on('data', (m) => texts.push(m.text));
    call.on('end', () => done(null, { text: texts.join(','), n: texts.length, pid }));
  },
  Bidi(call) {
    call.on('data', (m) => call.write({ text: m.text, n: m.n, pid }));
    call.on('end', () => call.end());
  },
  Fail(call, done) {
    const trailer = new grpc.Metadata();
    trailer.set('x-detail', 'from-app');
    done({ code: grpc.status.INVALID_ARGUMENT, details: 'bad ' + call.request.text, metadata: trailer });
  },
});
server.bindAsync(`127.0.0.1:${process.env.PORT}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`grpc on ${process.env.PORT}`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
