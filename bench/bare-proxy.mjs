// The baseline the ingress is measured against: a bare Node.js pass-through
// proxy (node:http server, one undici Pool to the upstream) that forwards the
// body and streams the response back — no auth, routing, parsing or books.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [, , portArg, upstreamArg] = process.argv;
const upstream = new URL(upstreamArg);
const pool = new Pool(upstream.origin, { connections: 512, pipelining: 1, keepAliveTimeout: 60_000 });
const basePath = upstream.pathname.replace(/\/+$/, '');

const server = createServer(async (req, res) => {
  const parts = [];
  for await (const c of req) parts.push(c);
  try {
    const up = await pool.request({
      path: basePath + req.url.replace(/^\/v1/, ''),
      method: req.method,
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(parts),
    });
    res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] ?? 'application/json' });
    for await (const chunk of up.body) res.write(chunk);
    res.end();
  } catch {
    res.writeHead(502).end();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${portArg}/v1` }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
