// Writes a Node log in pino's JSON shape (numeric levels, epoch milliseconds, its standard 'err'
// serialiser: type, message, stack) to standard output; the errors are really thrown. Seeded, fixed
// times. The truth (records, levels, error types) goes to standard error as JSON. Run by
// make_json_logs.py: node pino_like.js
"use strict";

let seed = 7;
function rand(n) {  // a small seeded generator: the same file every run
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
}

function vatOf(supplier) {
  return supplier.details.vat;  // TypeError when a supplier has no details
}

function charge(invoice) {
  if (invoice % 3 === 0) {
    throw new RangeError(`amount of invoice ${invoice} is out of range`);
  }
  return vatOf({ id: invoice });
}

const start = Date.parse("2026-12-06T09:00:00.123Z");
const levels = {};
const types = {};
let info = 0;
for (let i = 0; i < 40; i++) {
  const time = start + (37 * i + rand(30)) * 1000;
  const invoice = 1000 + rand(9000);
  const kind = rand(5);
  const line = { level: 30, time, pid: 4242, hostname: "web01" };
  if (kind <= 1) {
    line.msg = `invoice ${invoice} synced`;
    info++;
  } else if (kind === 2) {
    line.level = 40;
    line.msg = `invoice ${invoice} took ${5 + rand(50)} s to sync`;
  } else {
    line.level = 50;
    try {
      charge(invoice);
    } catch (err) {
      // the stack as a deployment would show it, not under this checkout's folder
      line.err = { type: err.constructor.name, message: err.message, stack: err.stack.split(__dirname).join("/app/src") };
      types[err.constructor.name] = (types[err.constructor.name] || 0) + 1;
    }
    line.msg = `could not charge invoice ${invoice}`;
  }
  if (line.level !== 30) {
    levels[line.level] = (levels[line.level] || 0) + 1;
  }
  process.stdout.write(JSON.stringify(line) + "\n");
}
process.stderr.write(JSON.stringify({ records: 40, info, levels, types }) + "\n");
