// A webhook receiver for the tests (webhooks_process_test.go): a real HTTP
// server that verifies every POST with the standardwebhooks package, as a
// receiver of Filegraph's webhooks would, and prints one JSON line per POST.
//
//   node webhook-receiver.mjs SECRET [FAIL_FIRST] [DELAY_MS]
//
// FAIL_FIRST=1 answers 500 to the first try of each webhook-id and 200 to
// the others; DELAY_MS holds each answer that long. A line "status N" on
// stdin answers N to every try from then on ("status 0" goes back to the
// first behaviour).
//
// Printed: {"listening":PORT}, then for each POST {"id","type","file",
// "timestamp","status","try","at","port"} when its answer is decided (at:
// ms since the epoch; port: the sender's, to tell replicas apart), then
// {"answered":id,"port"} when it is sent; a POST that fails verification
// prints {"bad":id,"error"} and gets 401.
import http from "node:http";
import readline from "node:readline";
import { Webhook } from "standardwebhooks";

const [secret, failFirst = "0", delay = "0"] = process.argv.slice(2);
const wh = new Webhook(secret);
const tries = new Map();
let forced = 0;

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, n] = line.trim().split(/\s+/);
  if (cmd === "status") forced = Number(n);
});

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const id = req.headers["webhook-id"];
    let payload;
    try {
      payload = wh.verify(body, req.headers);
    } catch (e) {
      print({ bad: id ?? null, error: String(e && e.message) });
      res.writeHead(401).end();
      return;
    }
    const n = (tries.get(id) ?? 0) + 1;
    tries.set(id, n);
    const status = forced || (failFirst === "1" && n === 1 ? 500 : 200);
    const port = req.socket.remotePort;
    print({ id, type: payload.type, file: payload.data.id, timestamp: payload.timestamp, status, try: n, at: Date.now(), port });
    setTimeout(() => {
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "not now");
      print({ answered: id, port });
    }, Number(delay));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => print({ listening: server.address().port }));
