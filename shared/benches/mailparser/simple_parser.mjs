// Times mailparser's simpleParser (MIME only: headers, bodies, attachments decoded) over the
// message files named on the command line: five rounds of at least two seconds, the median.
// Prints {"messages_per_sec": N, "messages": M} for shared/benches/email.rs.
import { readFileSync } from "node:fs";
import { simpleParser } from "mailparser";

const messages = process.argv.slice(2).map((p) => readFileSync(p));
if (messages.length === 0) {
  console.error("usage: node simple_parser.mjs FILE...");
  process.exit(2);
}

async function round(minMs) {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < minMs) {
    for (const m of messages) {
      await simpleParser(m, { skipImageLinks: true });
    }
    n += messages.length;
  }
  return n / ((performance.now() - start) / 1000);
}

await round(500); // warm the JIT
const rates = [];
for (let i = 0; i < 5; i++) rates.push(await round(2000));
rates.sort((a, b) => a - b);
console.log(JSON.stringify({ messages_per_sec: rates[2], messages: messages.length }));
