// A real WebSocket and streaming origin for the gateway tests, on the `ws` package.
// usage: node origin.mjs PORT WS_PACKAGE_DIR   (prints "ready")
//   ws  /echo           echoes every message (text or binary) back
//   ws  /stream         sends "n:<id>" every 5 ms (and echoes); records pings/pongs it sees
//   ws  /big?n=BYTES    sends one message of BYTES bytes
//   GET /sse?gap=MS&count=N   text/event-stream, N events MS apart, then ends
//   GET /sse-forever    text/event-stream, "data: n:<id>" every 5 ms until the client leaves
//   POST /upload        reads the body forever, never answers (an upload in progress)
//   GET /stats          JSON: pongs/pings seen from the gateway side (the gateway's own pings
//                       must never reach the origin)
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const port = Number(process.argv[2]);
const { WebSocketServer } = createRequire(path.join(process.argv[3], 'package.json'))('ws');
const stats = { pings: 0, pongs: 0, ws_open: 0, ws_closed: 0 };

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/sse') {
    const gap = Number(u.searchParams.get('gap') || 100);
    const count = Number(u.searchParams.get('count') || 10);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    let i = 0;
    const t = setInterval(() => {
      res.write(`data: event ${i}\n\n`);
      if (++i >= count) { clearInterval(t); res.end(); }
    }, gap);
    req.on('close', () => clearInterval(t));
    return;
  }
  if (u.pathname === '/sse-forever') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    let i = 0;
    const t = setInterval(() => res.write(`data: n:${i++}\n\n`), 5);
    res.on('close', () => clearInterval(t));
    return;
  }
  if (u.pathname === '/upload') {
    req.on('data', () => {});
    return; // never answers while the body flows
  }
  if (u.pathname === '/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('hello\n');
});

const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws, req) => {
  const u = new URL(req.url, 'http://x');
  stats.ws_open++;
  ws.on('ping', () => stats.pings++);
  ws.on('pong', () => stats.pongs++);
  ws.on('close', () => stats.ws_closed++);
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  if (u.pathname === '/stream') {
    let i = 0;
    const t = setInterval(() => { if (ws.readyState === 1) ws.send(`n:${i++}`); }, 5);
    ws.on('close', () => clearInterval(t));
  } else if (u.pathname === '/big') {
    ws.send(Buffer.alloc(Number(u.searchParams.get('n') || 0), 120));
  }
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
