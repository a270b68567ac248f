/**
 * Network helpers for tests that run real servers on 127.0.0.1: free ports, polling, an HTTP
 * client that never reuses connections, echo backends that say who they are, and a tiny DNS
 * server standing in for Docker's embedded DNS.
 */
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";

/** `count` distinct TCP ports that were free a moment ago on 127.0.0.1 (held together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/**
 * Free ports for a stack's published ports, below Linux's ephemeral range (32768 and up): the
 * kernel never hands them to another test's `listen(0)` or outgoing connection between this check
 * and the engine's bind, as it may a port `freePorts` found (tests run two files at once).
 */
export async function publishablePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  return ports;
}

/**
 * Calls `probe` until it returns something other than undefined, every `intervalMs`; throws
 * after `timeoutMs` with `what` and the last error the probe threw.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequestOptions {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** HTTPS with certificate checks off (the tests' certificate is self-signed). */
  tls?: boolean;
  timeoutMs?: number;
}

/**
 * One request on a fresh connection (no agent, no keep-alive), so a connection closed by a
 * reloading nginx can never be picked from a pool; the path is sent exactly as given.
 */
export function httpRequest(options: HttpRequestOptions): Promise<HttpResult> {
  const { port, path, method = "GET", headers = {}, body, tls = false, timeoutMs = 5_000 } = options;
  return new Promise((resolve, reject) => {
    const request = (tls ? https : http).request(
      {
        host: "127.0.0.1",
        port,
        path,
        method,
        headers,
        agent: false,
        timeout: timeoutMs,
        ...(tls ? { rejectUnauthorized: false, servername: "localhost" } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}

export interface Http2Result extends Omit<HttpResult, "headers"> {
  /** The protocol ALPN settled on. */
  alpn: string | false | undefined;
  headers: http2.IncomingHttpHeaders;
}

/** One GET over a fresh HTTP/2 session (TLS, certificate checks off). */
export function http2Get(port: number, path: string, timeoutMs = 5_000): Promise<Http2Result> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: "localhost" });
    const timer = setTimeout(
      () => session.destroy(new Error(`GET ${path} over HTTP/2: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    session.on("error", (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    const stream = session.request({ ":path": path, ":method": "GET" });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (headers = h));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("end", () => {
      clearTimeout(timer);
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ alpn, status: Number(headers[":status"]), headers, body: Buffer.concat(chunks).toString("utf8") });
    });
  });
}

export interface Upgraded {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Writes `data` on the upgraded connection and resolves with the first bytes that come back. */
  roundTrip(data: string): Promise<string>;
  close(): void;
}

/** A WebSocket-style upgrade request (no framing: the echo backends just echo bytes). */
export function upgradeRequest(port: number, path: string, timeoutMs = 5_000): Promise<Upgraded> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: "127.0.0.1",
      port,
      path,
      agent: false,
      timeout: timeoutMs,
      headers: { Connection: "Upgrade", Upgrade: "websocket" },
    });
    request.on("timeout", () => request.destroy(new Error(`upgrade ${path}: no answer within ${timeoutMs} ms`)));
    request.on("error", reject);
    request.on("response", (res) => reject(new Error(`upgrade ${path}: answered ${res.statusCode} instead of 101`)));
    request.on("upgrade", (res, socket: net.Socket) => {
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        roundTrip: (data) =>
          new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error("no echo on the upgraded connection")), timeoutMs);
            socket.once("data", (chunk: Buffer) => {
              clearTimeout(timer);
              done(chunk.toString("utf8"));
            });
            socket.write(data);
          }),
        close: () => socket.destroy(),
      });
    });
    request.end();
  });
}

/** What an echo backend answers: who it is and what it received. */
export interface Echo {
  backend: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
}

/** The request an echo backend saw, from its JSON answer. */
export const echoOf = (r: { body: string }): Echo => JSON.parse(r.body) as Echo;

export interface EchoBackend {
  name: string;
  port: number;
  /** "<host>:<port>" */
  address: string;
  /** Requests answered so far. */
  requests(): number;
  /** TCP connections accepted so far: fewer than requests() means a client reused connections. */
  connections(): number;
  /** Closes the listening socket and every open connection: the port refuses connections. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/**
 * An HTTP server (on 127.0.0.1 unless told) that answers every request with an Echo as JSON (after `?delay=<ms>`
 * milliseconds when asked, to keep a request in flight; with `?cache=<Cache-Control value>` as its
 * own Cache-Control when asked, to tell its caching headers from the edge's), and accepts
 * WebSocket-style upgrades by answering 101 and echoing the bytes it receives.
 */
export async function startEchoBackend(
  name: string,
  { host = "127.0.0.1", port = 0 }: { host?: string; port?: number } = {},
): Promise<EchoBackend> {
  let answered = 0;
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on("data", (c: Buffer) => (bodyBytes += c.length));
    req.on("end", () => {
      const echo: Echo = {
        backend: name,
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyBytes,
      };
      const delay = Number(/[?&]delay=(\d+)/.exec(req.url ?? "")?.[1] ?? 0);
      const cache = /[?&]cache=([^&]*)/.exec(req.url ?? "")?.[1];
      setTimeout(() => {
        answered++;
        // Headers the edge must hide or override.
        res.writeHead(200, {
          "content-type": "application/json",
          "x-powered-by": "Express",
          "x-frame-options": "ALLOWALL",
          ...(cache === undefined ? {} : { "cache-control": decodeURIComponent(cache) }),
        });
        res.end(JSON.stringify(echo));
      }, delay);
    });
  });
  server.on("connection", (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `X-Echo-Backend: ${name}\r\nX-Echo-Url: ${req.url ?? ""}\r\n\r\n`,
    );
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(port);
  const actualPort = (server.address() as net.AddressInfo).port;
  return {
    name,
    port: actualPort,
    address: `${host}:${actualPort}`,
    requests: () => answered,
    connections: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
    start: () => (server.listening ? Promise.resolve() : listen(actualPort)),
  };
}

export interface FakeDns {
  /** "127.0.0.1:<port>", as nginx's `resolver` takes it. */
  address: string;
  /** Makes `name` resolve to `ipv4`, or (null) answer NXDOMAIN for it, like a stopped container. */
  set(name: string, ipv4: string | null): void;
  /** A queries received for `name` so far. */
  queries(name: string): number;
  stop(): Promise<void>;
}

/**
 * An authoritative-only DNS server over UDP on 127.0.0.1 that answers A queries from a table
 * (TTL 1 s) and NXDOMAIN for names not in it, as Docker's embedded DNS does for a container
 * that does not exist. Just enough DNS for nginx's resolver.
 */
export async function startFakeDns(records: Record<string, string> = {}): Promise<FakeDns> {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]));
  const counts = new Map<string, number>();
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, peer) => {
    if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return;
    const labels: string[] = [];
    let offset = 12;
    for (;;) {
      const length = msg[offset];
      if (length === undefined) return;
      offset += 1;
      if (length === 0) break;
      labels.push(msg.subarray(offset, offset + length).toString("ascii"));
      offset += length;
    }
    if (offset + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(offset);
    const question = msg.subarray(12, offset + 4);
    const name = labels.join(".").toLowerCase();
    if (qtype === 1) counts.set(name, (counts.get(name) ?? 0) + 1);
    const ip = table.get(name);
    const answer =
      ip !== undefined && qtype === 1
        ? Buffer.concat([
            Buffer.from([0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x04]),
            Buffer.from(ip.split(".").map(Number)),
          ])
        : Buffer.alloc(0);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    // QR, AA, the client's RD, RA; rcode 3 (NXDOMAIN) for unknown names.
    header.writeUInt16BE(0x8000 | 0x0400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (ip === undefined ? 3 : 0), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer.length ? 1 : 0, 6);
    socket.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    set: (name, ipv4) => (ipv4 === null ? table.delete(name.toLowerCase()) : table.set(name.toLowerCase(), ipv4)),
    queries: (name) => counts.get(name.toLowerCase()) ?? 0,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** An answer's status and body. */
export interface Answer {
  status: number;
  body: string;
}

/**
 * A GET to a container's address, on `agent`'s kept-alive connections when one is given (else a
 * new connection). A failure carries `reusedSocket`: whether the request went out on a connection
 * used before, which a browser-like client retries once (test/swap.docker.test.ts).
 */
export function getAt(
  host: string,
  port: number,
  urlPath: string,
  agent: http.Agent | false = false,
  tls = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host, port, path: urlPath, agent, timeout: 15_000 };
    // The test stacks serve a self-signed certificate for localhost.
    const get = (res: http.IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    };
    const req = tls
      ? https.get({ ...options, rejectUnauthorized: false, servername: "localhost" }, get)
      : http.get(options, get);
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: no answer within 15 s`)));
    req.on("error", (error: NodeJS.ErrnoException) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
  });
}

/**
 * A GET as browsers send it: when a kept-alive connection turns out closed before any answer
 * (the server closed it as idle, as nginx does with its old workers on every graceful reload),
 * the request goes again on a new connection, once (RFC 9112 section 9.3.1; Node's http docs
 * show the same pattern with `reusedSocket`). Anything else is the answer.
 */
export async function browserGetAt(
  host: string,
  port: number,
  urlPath: string,
  agent: http.Agent,
  tls = false,
): Promise<Answer> {
  try {
    return await getAt(host, port, urlPath, agent, tls);
  } catch (error) {
    const { reusedSocket, code } = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
    if (reusedSocket && (code === "ECONNRESET" || code === "EPIPE")) return getAt(host, port, urlPath, agent, tls);
    throw error;
  }
}

/** What the probe (probe/server.js) answers on an API route: its role and region, from its env. */
export interface ProbeEcho {
  role?: string;
  region?: { id?: string | null };
  /** The request's method, as the probe received it. */
  method?: string | null;
}
export const probeEchoOf = (a: Answer): ProbeEcho => JSON.parse(a.body) as ProbeEcho;
