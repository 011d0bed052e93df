/**
 * Diagnostic preload for bench/newsletter (BENCH_WORKER_NODE_ARGS="-r ./bench/tcp-nodelay.js"): turns Nagle's
 * algorithm off on every outgoing TCP socket of the worker, to show how much of the delivery time is nodemailer's
 * SMTP socket waiting ~40 ms for a delayed ACK after each message. Not used in production.
 */
const net = require('node:net');

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectWithNoDelay(...args) {
  this.setNoDelay(true);
  return connect.apply(this, args);
};
