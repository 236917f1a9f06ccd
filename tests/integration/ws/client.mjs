// Device-side clients of the gateway's live-traffic test, driven by JSON lines on stdin and
// reporting JSON lines on stdout. Every channel is a real TLS connection to the gateway (SNI =
// the site), with the session cookie:
//   h1ws   WebSocket over HTTP/1.1 Upgrade, on a raw TLS socket with its own frame parser, so
//          that every byte after the close frame is seen and counted
//   h2ws   WebSocket over HTTP/2 extended CONNECT (RFC 8441) with Node's http2 client, sent only
//          once the gateway's SETTINGS carry ENABLE_CONNECT_PROTOCOL
//   h1sse / h2sse   a text/event-stream response (GET /sse-forever)
//   h1up / h2up     an upload in progress (POST /upload, a chunk every 10 ms, never answered)
//   wsjs   WebSocket over HTTP/1.1 with the `ws` package's client (interoperability)
// The cut instant of a channel is when the client sees access end: the close frame (h1ws), the
// RST_STREAM (h2), or the end of the connection (h1 streams). Times are wall-clock ms with
// sub-ms precision, comparable with the test's time.time().
// usage: node client.mjs GATEWAY_PORT CA_FILE WS_PACKAGE_DIR   (prints "ready")
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import tls from 'node:tls';
import { createRequire } from 'node:module';

const [port, caFile, wsDir] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const ca = fs.readFileSync(caFile);
const WebSocket = createRequire(path.join(wsDir, 'package.json'))('ws');
const chans = new Map();
const now = () => performance.timeOrigin + performance.now();
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

class Parser {
  constructor(onFrame) { this.buf = Buffer.alloc(0); this.onFrame = onFrame; }
  // returns the number of bytes that followed a close frame in this chunk
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < 2) return 0;
      let len = this.buf[1] & 0x7f, off = 2;
      if (len === 126) { if (this.buf.length < 4) return 0; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return 0; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf[1] & 0x80) off += 4;
      if (this.buf.length < off + len) return 0;
      const op = this.buf[0] & 0x0f, payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (this.onFrame(op, payload) === 'closed') { const rest = this.buf.length; this.buf = Buffer.alloc(0); return rest; }
    }
  }
}

function frame(op, data) {
  const p = Buffer.from(data), mask = crypto.randomBytes(4);
  let head;
  if (p.length < 126) head = Buffer.from([0x80 | op, 0x80 | p.length]);
  else if (p.length < 65536) { head = Buffer.from([0x80 | op, 0x80 | 126, 0, 0]); head.writeUInt16BE(p.length, 2); }
  else { head = Buffer.alloc(10); head[0] = 0x80 | op; head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(p.length), 2); }
  const out = Buffer.alloc(p.length);
  for (let i = 0; i < p.length; i++) out[i] = p[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, out]);
}

function newChan(c) {
  const ch = { id: c.id, type: c.type, msgs: 0, bytes: 0, echoes: [], cut: false, after: 0,
               closeSeen: false, pings: 0, autopong: c.autopong !== false };
  chans.set(c.id, ch);
  return ch;
}

function finish(ch, how, code) {
  if (ch.cut) return;
  ch.cut = true;
  ch.t = ch.t || now();
  ch.how = ch.how || how;
  ch.code = ch.code ?? code;
  // report once the transport is gone so that bytes after the cut are all counted
  setImmediate(() => emit({ ev: 'cut', id: ch.id, t: ch.t, how: ch.how, code: ch.code,
                             after: ch.after, msgs: ch.msgs, pings: ch.pings }));
}

function onWsFrame(ch, op, payload) {
  if (op === 1 || op === 2) {
    ch.msgs++; ch.bytes += payload.length; ch.last = now();
    const s = payload.toString();
    if (!s.startsWith('n:')) ch.echoes.push(payload.length > 64 ? `<${payload.length} bytes>` : s);
  } else if (op === 9) {
    ch.pings++;
    if (ch.autopong) ch.send(frame(10, payload));
  } else if (op === 8) {
    ch.closeSeen = true; ch.t = now(); ch.how = 'close';
    ch.code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    ch.reason = payload.subarray(2).toString();
    if (ch.onClose) ch.onClose(); // answer as a browser does: close frame back, end our side
    return 'closed';
  }
}

function openH1ws(c) {
  const ch = newChan(c);
  const key = crypto.randomBytes(16).toString('base64');
  const s = tls.connect({ host: '127.0.0.1', port, servername: c.domain, ca, ALPNProtocols: ['http/1.1'] });
  ch.send = (b) => s.write(b);
  ch.close = () => s.destroy();
  ch.onClose = () => s.end(frame(8, Buffer.from([3, 232])));
  let head = Buffer.alloc(0), upgraded = false;
  const parser = new Parser((op, p) => onWsFrame(ch, op, p));
  s.on('secureConnect', () => s.write(`GET ${c.path} HTTP/1.1\r\nHost: ${c.domain}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    `Sec-WebSocket-Version: 13\r\nCookie: __Host-wl_session=${c.token}\r\n\r\n`));
  s.on('data', (d) => {
    if (ch.closeSeen) { ch.after += d.length; return; }
    if (!upgraded) {
      head = Buffer.concat([head, d]);
      const i = head.indexOf('\r\n\r\n');
      if (i < 0) return;
      const text = head.subarray(0, i).toString();
      const status = Number(text.split(' ')[1]);
      const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      const accept = /sec-websocket-accept: *(\S+)/i.exec(text);
      if (status !== 101 || !accept || accept[1] !== want) {
        emit({ ev: 'open', id: c.id, ok: false, status, head: text.slice(0, 300) });
        ch.failed = true; s.destroy(); return;
      }
      upgraded = true;
      emit({ ev: 'open', id: c.id, ok: true, status });
      d = head.subarray(i + 4);
    }
    ch.after += parser.push(d);
  });
  s.on('error', () => {});
  s.on('close', () => { if (upgraded) finish(ch, 'eof'); else if (!ch.failed) emit({ ev: 'open', id: c.id, ok: false, status: 0 }); });
}

const sessions = new Map();
function h2session(domain, cb) {
  const sess = http2.connect(`https://${domain}:${port}`, {
    createConnection: () => tls.connect({ host: '127.0.0.1', port, servername: domain, ca, ALPNProtocols: ['h2'] }) });
  sess.on('error', () => {});
  sess.once('remoteSettings', (st) => cb(sess, st));
}

function openH2(c) {
  const ch = newChan(c);
  h2session(c.domain, (sess, st) => {
    ch.close = () => sess.destroy();
    const ws = c.type === 'h2ws';
    if (ws && !st.enableConnectProtocol) {
      emit({ ev: 'open', id: c.id, ok: false, status: 0, why: 'no SETTINGS_ENABLE_CONNECT_PROTOCOL' });
      sess.destroy(); return;
    }
    const h = { ':path': c.path, ':authority': `${c.domain}:${port}`, ':scheme': 'https',
                cookie: `__Host-wl_session=${c.token}` };
    if (ws) Object.assign(h, { ':method': 'CONNECT', ':protocol': 'websocket', 'sec-websocket-version': '13' });
    else if (c.type === 'h2up') h[':method'] = 'POST';
    const req = sess.request(h, { endStream: c.type === 'h2sse' });
    ch.send = (b) => req.write(b);
    ch.onClose = () => req.end(frame(8, Buffer.from([3, 232])));
    const parser = new Parser((op, p) => onWsFrame(ch, op, p));
    let timer = null;
    if (c.type === 'h2up') {
      timer = setInterval(() => req.write(Buffer.alloc(1024, 97)), 10);
      setTimeout(() => emit({ ev: 'open', id: c.id, ok: true, status: 0 }), 50);
    }
    req.on('response', (hd) => {
      const status = hd[':status'];
      if (ws || c.type === 'h2sse') emit({ ev: 'open', id: c.id, ok: status === 200, status });
    });
    req.on('data', (d) => {
      if (ch.cut) { ch.after += d.length; return; }
      if (ws) parser.push(d);
      else { ch.msgs += (d.toString().match(/data: /g) || []).length; ch.bytes += d.length; ch.last = now(); }
    });
    req.on('error', () => {});
    req.on('close', () => {
      clearInterval(timer);
      finish(ch, req.rstCode ? 'rst' : 'end', req.rstCode);
      sess.close();
    });
  });
}

function openH1stream(c) {
  const ch = newChan(c);
  const up = c.type === 'h1up';
  const req = https.request({ host: '127.0.0.1', port, servername: c.domain, ca, path: c.path, agent: false,
    method: up ? 'POST' : 'GET', headers: { Host: c.domain, Cookie: `__Host-wl_session=${c.token}` } });
  let timer = null;
  ch.close = () => { clearInterval(timer); req.destroy(); };
  req.on('response', (res) => {
    emit({ ev: 'open', id: c.id, ok: res.statusCode === 200, status: res.statusCode });
    res.on('data', (d) => {
      if (ch.cut) { ch.after += d.length; return; }
      ch.msgs += (d.toString().match(/data: /g) || []).length; ch.bytes += d.length; ch.last = now();
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.on('close', () => { clearInterval(timer); finish(ch, 'eof'); });
  if (up) {
    timer = setInterval(() => req.write(Buffer.alloc(1024, 97)), 10);
    setTimeout(() => emit({ ev: 'open', id: c.id, ok: true, status: 0 }), 50);
  } else {
    req.end();
  }
}

function openWsjs(c) {
  const ch = newChan(c);
  const ws = new WebSocket(`wss://${c.domain}:${port}${c.path}`, {
    headers: { Cookie: `__Host-wl_session=${c.token}` },
    createConnection: () => tls.connect({ host: '127.0.0.1', port, servername: c.domain, ca, ALPNProtocols: ['http/1.1'] }) });
  ch.sendText = (s) => ws.send(s);
  ch.close = () => ws.terminate();
  ws.on('open', () => emit({ ev: 'open', id: c.id, ok: true, status: 101 }));
  ws.on('unexpected-response', (q, res) => emit({ ev: 'open', id: c.id, ok: false, status: res.statusCode }));
  ws.on('message', (d) => { ch.msgs++; const s = d.toString(); if (!s.startsWith('n:')) ch.echoes.push(s.length > 64 ? `<${s.length} bytes>` : s); });
  ws.on('ping', () => ch.pings++);
  ws.on('close', (code) => finish(ch, 'close', code));
  ws.on('error', () => {});
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line);
  const ch = chans.get(c.id);
  switch (c.cmd) {
    case 'open':
      if (c.type === 'h1ws') openH1ws(c);
      else if (c.type === 'h2ws' || c.type === 'h2sse' || c.type === 'h2up') openH2(c);
      else if (c.type === 'wsjs') openWsjs(c);
      else openH1stream(c);
      break;
    case 'send': // a text message of c.data, or c.size bytes
      if (ch.sendText) ch.sendText(c.data ?? 'x'.repeat(c.size));
      else ch.send(frame(1, c.data ?? Buffer.alloc(c.size, 120)));
      break;
    case 'stats':
      emit({ ev: 'stats', id: c.id, msgs: ch.msgs, bytes: ch.bytes, cut: ch.cut, echoes: ch.echoes,
             pings: ch.pings, code: ch.code, how: ch.how, after: ch.after, reason: ch.reason });
      break;
    case 'close':
      if (ch) { ch.cut = true; ch.close && ch.close(); chans.delete(c.id); }
      break;
  }
});
console.log('ready');
