'use strict';
// The Echo service definition (echo.proto), shared by grpc_server.js and grpc_client.js.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const definition = protoLoader.loadSync(path.join(__dirname, 'echo.proto'), { keepCase: true });
module.exports = { grpc, Echo: grpc.loadPackageDefinition(definition).nodeedge.test.Echo };
