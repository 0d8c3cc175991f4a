// sharp as a persistent benchmark worker: one thread, no cache, like a Lambda below 1,769 MB
// (under one vCPU). The pipeline is what a sharp thumbnailer does:
//
//   sharp(buf).rotate().resize(max, max, {fit: 'inside', withoutEnlargement: true}).jpeg({quality: 85})
//
// Protocol (bench/peers/protocol.py is the client), one request at a time on stdin:
//
//   load <n>\n<n bytes>   keep the image; reply  ok <cpu_us> 0\n
//   run <max_size>\n      reply  ok <cpu_us> <n>\n<n bytes of JPEG>
//   noop\n                reply  ok <cpu_us> 0\n   (the round trip alone)
//
// or `err <message>\n`. cpu_us is this process's CPU time (user and system, all threads:
// libuv's pool thread does sharp's work) spent on the request. End of input ends the process.
'use strict';

const fs = require('node:fs');
const sharp = require('sharp');

sharp.concurrency(1);
sharp.cache(false);

const QUALITY = 85;
const STDIN = 0;
const STDOUT = 1;

let pending = Buffer.alloc(0);
const chunk = Buffer.allocUnsafe(1 << 20);

// Blocking reads on fd 0: the worker does one thing at a time, so nothing waits on the event loop
// while it reads, and no stream machinery sits between the pipe and the request.
function fill() {
  for (;;) {
    try {
      const n = fs.readSync(STDIN, chunk, 0, chunk.length, null);
      if (n === 0) return false;
      pending = Buffer.concat([pending, chunk.subarray(0, n)]); // a copy: chunk is reused
      return true;
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function readLine() {
  for (;;) {
    const end = pending.indexOf(0x0a);
    if (end >= 0) {
      const line = pending.subarray(0, end).toString('latin1');
      pending = pending.subarray(end + 1);
      return line;
    }
    if (!fill()) return null;
  }
}

// Straight into one buffer of the body's size: no growing copies of a 10 MB image to inflate the
// peak memory measured.
function readExact(length) {
  const body = Buffer.allocUnsafe(length);
  let filled = Math.min(pending.length, length);
  pending.copy(body, 0, 0, filled);
  pending = pending.subarray(filled);
  while (filled < length) {
    try {
      const n = fs.readSync(STDIN, body, filled, length - filled, null);
      if (n === 0) throw new Error(`end of input with ${filled} of ${length} bytes`);
      filled += n;
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
  return body;
}

function writeAll(buffer) {
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(STDOUT, buffer, offset, buffer.length - offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
    }
  }
}

function reply(cpu, body) {
  writeAll(Buffer.concat([Buffer.from(`ok ${cpu} ${body.length}\n`), body]));
}

function cpuSince(started) {
  const used = process.cpuUsage(started);
  return used.user + used.system;
}

async function main() {
  let loaded = Buffer.alloc(0);
  for (;;) {
    const line = readLine();
    if (line === null) return;
    const [command, argument, extra] = line.trim().split(/\s+/);
    const number = Number(argument);
    const valid = extra === undefined && Number.isSafeInteger(number);
    if (command === 'load' && valid && number >= 0) {
      loaded = readExact(number);
      reply(0, Buffer.alloc(0));
    } else if (command === 'run' && valid && number >= 1) {
      const started = process.cpuUsage();
      let body;
      try {
        body = await sharp(loaded)
          .rotate()
          .resize(number, number, { fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality: QUALITY })
          .toBuffer();
      } catch (error) {
        writeAll(Buffer.from(`err ${String(error.message).replace(/\n/g, ' ')}\n`));
        continue;
      }
      reply(cpuSince(started), body);
    } else if (command === 'noop' && argument === undefined) {
      const started = process.cpuUsage();
      reply(cpuSince(started), Buffer.alloc(0));
    } else {
      writeAll(Buffer.from(`err bad request: ${JSON.stringify(line)}\n`));
    }
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
