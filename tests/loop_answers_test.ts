/**
 * What an answer costs on the wire, in both loop modes: two stacks on the
 * in-memory link run a closed-loop echo (each connection keeps one 64-byte
 * request in flight), and a device wrapped around each end counts its
 * transmit bursts, its frames and its frames without payload (pure ACKs).
 * Counts, not times: the figures do not depend on the machine's speed.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  type Connection,
  type ConnectionHandlers,
  createHeapZone,
  createMemoryLink,
  createStack,
  type Stack,
} from "../src/mod.ts";
import { CountingDevice } from "./counting_device.ts";
import { describe, test } from "./harness.ts";

interface Run {
  /** Requests the server answered while measured, and the requests the client sent meanwhile. */
  answers: number;
  requests: number;
  /** The server's transmit bursts, frames and frames without payload while measured. */
  bursts: number;
  frames: number;
  empty: number;
  /** Server polls that received frames while measured. */
  busyPolls: number;
  /** The client's frames and frames without payload while measured. */
  clientFrames: number;
  clientEmpty: number;
}

/** Two stacks on the in-memory link, each behind a device that counts what it sends. */
async function countedPair(
  mode: "batch" | "inline",
  buffers: number,
  txFlushFrames?: number,
): Promise<{ server: Stack; client: Stack; ds: CountingDevice; dc: CountingDevice }> {
  const [la, lb] = createMemoryLink({
    zone: createHeapZone({ name: "a", count: buffers }),
    zoneB: createHeapZone({ name: "b", count: buffers }),
  });
  const ds = new CountingDevice(la);
  const dc = new CountingDevice(lb);
  const server = await createStack({ device: ds, address: "198.18.0.1/24", mode, txFlushFrames });
  const client = await createStack({ device: dc, address: "198.18.0.2/24", mode, txFlushFrames });
  return { server, client, ds, dc };
}

/**
 * `conns` connections, `rounds` requests each after three unmeasured
 * exchanges (behind them the handshake, and the window updates that open the
 * window past the SYN's unscaled 64 KiB). `buffers`: each zone's size (a small
 * zone bounds each connection's receive window by its share of the zone).
 */
async function echo(
  mode: "batch" | "inline",
  conns: number,
  rounds: number,
  buffers: number,
  txFlushFrames?: number,
): Promise<Run> {
  const { server, client, ds, dc } = await countedPair(mode, buffers, txFlushFrames);
  const answer = (c: Connection) => {
    const zone = c.zoneBytes;
    for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
      const n = c.write(zone, c.pieceOffset, len);
      if (n === 0) return;
      c.consume(n);
    }
  };
  server.listen(7, (c) => {
    c.setNoDelay(true);
    return { onData: answer, onWritable: answer };
  });
  const request = new Uint8Array(64).fill(0x5a);
  let answered = 0;
  let sent = 0;
  const warm = 3;
  const left = new Map<Connection, number>();
  const handlers: ConnectionHandlers = {
    onOpen(c) {
      c.setNoDelay(true);
      left.set(c, rounds + warm);
      c.write(request);
      sent++;
    },
    onData(c) {
      for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
        assertEquals(n % 64, 0, "an answer arrives whole");
        answered += n / 64;
        c.consume(n);
        const k = left.get(c)! - n / 64;
        left.set(c, k);
        if (k > 0) {
          assertEquals(c.write(request), 64);
          sent++;
        }
      }
    },
  };
  for (let i = 0; i < conns; i++) client.connect("198.18.0.1", 7, handlers);
  const pollUntil = (done: () => boolean) => {
    for (let i = 0; !done() && i < 1_000_000; i++) {
      server.poll();
      client.poll();
    }
    assert(done(), `${mode}, ${conns} connections: ${answered} answers, the loop ran out`);
  };
  pollUntil(() => answered >= conns * warm);
  const s0 = { bursts: ds.bursts, frames: ds.frames, empty: ds.empty, cf: dc.frames, ce: dc.empty };
  const answered0 = answered;
  const sent0 = sent;
  let busyPolls = 0;
  for (let i = 0; answered < conns * (rounds + warm) && i < 1_000_000; i++) {
    if (server.poll() > 0) busyPolls++;
    client.poll();
  }
  assertEquals(answered, conns * (rounds + warm), `${mode}, ${conns} connections: every request answered`);
  const run = {
    answers: answered - answered0,
    requests: sent - sent0,
    bursts: ds.bursts - s0.bursts,
    frames: ds.frames - s0.frames,
    empty: ds.empty - s0.empty,
    busyPolls,
    clientFrames: dc.frames - s0.cf,
    clientEmpty: dc.empty - s0.ce,
  };
  await client.close(100);
  await server.close(100);
  assertEquals(server.stats().zone.inUse, 0, "every buffer back");
  return run;
}

describe("loop answers", () => {
  for (const mode of ["inline", "batch"] as const) {
    test(`${mode}: an answer leaves with its ACK, in the burst of the poll that received the request`, async () => {
      const r = await echo(mode, 1, 200, 2048);
      // One frame a request each way: the ACK rides on the answer, none goes alone.
      assertEquals(r.frames, r.answers);
      assertEquals(r.empty, 0);
      assertEquals(r.clientFrames, r.requests);
      assertEquals(r.clientEmpty, 0);
      // One transmit burst for each poll that received a request.
      assertEquals(r.bursts, r.busyPolls);
    });

    test(`${mode}: with txFlushFrames 0, 16 connections answered in one burst per poll, and no read costs a pure ACK when the window is bounded by the zone's share`, async () => {
      // 512 buffers: each connection's share is 48 buffers, a window of about 68 KiB, far
      // below the 1 MiB receive buffer; a read must not look like a window reopened.
      const r = await echo(mode, 16, 50, 512, 0);
      assertEquals(r.frames, r.answers);
      assertEquals(r.empty, 0);
      assertEquals(r.clientFrames, r.requests);
      assertEquals(r.clientEmpty, 0);
      assertEquals(r.bursts, r.busyPolls);
      // The 16 requests of a round arrive in one burst, so their answers leave in one.
      assert(r.bursts <= r.answers / 8, `${r.bursts} bursts for ${r.answers} answers`);
    });

    test(`${mode}: the answers of a burst that did not fill leave every 8 (txFlushFrames), those of a full burst together`, async () => {
      // 16 requests a round in a burst of up to 64: the peer gets the first 8 answers while the
      // next 8 are made, in two transmit bursts a poll, each of whole answers with their ACKs.
      const r = await echo(mode, 16, 50, 2048);
      assertEquals(r.frames, r.answers);
      assertEquals(r.empty, 0);
      assertEquals(r.clientEmpty, 0);
      assertEquals(r.bursts, 2 * r.busyPolls, `${r.bursts} bursts for ${r.busyPolls} polls that received`);
      assertEquals(r.frames, 8 * r.bursts);
      // 64 requests a round fill a burst of 64: more is waiting, so each burst's answers go in one.
      const full = await echo(mode, 64, 20, 4096);
      assertEquals(full.frames, full.answers);
      assertEquals(full.empty, 0);
      assertEquals(
        full.bursts,
        full.busyPolls,
        `${full.bursts} bursts for ${full.busyPolls} polls that received`,
      );
      assert(
        full.bursts <= Math.ceil(full.frames / 64) + 1,
        `${full.bursts} bursts for ${full.frames} frames`,
      );
    });

    test(`${mode}: answers the device refuses are offered again once a poll, not after every answer, and none is lost`, async () => {
      const { server, client, ds } = await countedPair(mode, 1024);
      server.listen(7, (c) => {
        c.setNoDelay(true);
        return {
          onData(c) {
            const zone = c.zoneBytes;
            for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
              c.consume(c.write(zone, c.pieceOffset, len));
            }
          },
        };
      });
      let opened = 0;
      let got = 0;
      const conns: Connection[] = [];
      for (let i = 0; i < 16; i++) {
        conns.push(client.connect("198.18.0.1", 7, {
          onOpen(c) {
            c.setNoDelay(true);
            opened++;
          },
          onData(c) {
            for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
              got += n;
              c.consume(n);
            }
          },
        }));
      }
      const pollBoth = (done: () => boolean) => {
        for (let i = 0; !done() && i < 100_000; i++) {
          server.poll();
          client.poll();
        }
        assert(done(), "the loop ran out");
      };
      pollBoth(() => opened === 16 && server.connections().length === 16);
      for (let i = 0; i < 8; i++) server.poll(); // the handshakes' last ACKs are in
      ds.refuse = true;
      const request = new Uint8Array(64).fill(1);
      for (const c of conns) assertEquals(c.write(request), 64);
      client.poll(); // the 16 requests leave in one burst
      const calls0 = ds.calls;
      assertEquals(server.poll(), 16);
      // The first 8 answers are offered at once, the next 8 when made (the refused 8 with them),
      // then the end of the poll: not one call per answer once the device refuses.
      assert(ds.calls - calls0 <= 3, `${ds.calls - calls0} transmit calls for 16 answers refused`);
      const calls1 = ds.calls;
      assertEquals(server.poll(), 0);
      assertEquals(ds.calls - calls1, 1, "a poll without new answers offers the waiting ones once");
      ds.refuse = false;
      pollBoth(() => got === 16 * 64);
      await client.close(100);
      await server.close(100);
      assertEquals(server.stats().zone.inUse, 0, "every buffer back");
    });

    test(`${mode}: the handshake's last ACK rides on the request written on open, and goes alone at the poll's end when none is`, async () => {
      const { server, client } = await countedPair(mode, 256);
      const sent = () => client.tcp.counters.outSegs; // TCP segments: the ARP exchange aside
      let got = 0;
      server.listen(7, () => ({
        onData(c) {
          for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
            got += n;
            c.consume(n);
          }
        },
      }));
      const request = new Uint8Array(64).fill(3);
      let opened = 0;
      client.connect("198.18.0.1", 7, {
        onOpen(c) {
          opened++;
          assertEquals(c.write(request), 64);
        },
      });
      for (let i = 0; got < 64 && i < 1000; i++) {
        server.poll();
        client.poll();
      }
      assertEquals(got, 64, "the request arrived");
      // The SYN and the request, which carries the ACK of the SYN|ACK: no pure ACK between them.
      assertEquals(sent(), 2);
      // A connection that writes nothing on open: its ACK leaves alone, in the same poll.
      const s0 = sent();
      client.connect("198.18.0.1", 7, {
        onOpen() {
          opened++;
        },
      });
      for (let i = 0; opened < 2 && i < 1000; i++) {
        server.poll();
        client.poll();
      }
      assertEquals(opened, 2);
      assertEquals(sent() - s0, 2, "SYN and the ACK of the SYN|ACK");
      for (let i = 0; server.connections().length < 2 && i < 4; i++) server.poll();
      assertEquals(server.connections().length, 2, "the server's end is established");
      await client.close(100);
      await server.close(100);
      assertEquals(server.stats().zone.inUse, 0, "every buffer back");
    });

    test(`${mode}: an answer written by a promise continuation leaves at the start of the next poll, ahead of its burst`, async () => {
      const { server, client, ds } = await countedPair(mode, 256);
      server.listen(7, (c) => {
        c.setNoDelay(true);
        return {
          onData(c) {
            const n = c.readable;
            for (let len = c.pieceLength; len > 0; len = c.pieceLength) c.consume(len);
            // The answer is made later, as an async handler makes it.
            void Promise.resolve().then(() => c.write(new Uint8Array(n)));
          },
        };
      });
      let got = 0;
      const conn = client.connect("198.18.0.1", 7, {
        onData(c) {
          for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
            got += n;
            c.consume(n);
          }
        },
      });
      conn.setNoDelay(true);
      for (let i = 0; conn.state !== "ESTABLISHED" && i < 1000; i++) {
        client.poll();
        server.poll();
      }
      for (let i = 0; i < 4; i++) server.poll(); // the handshake's last ACK is in
      conn.write(new Uint8Array(10));
      client.poll();
      assertEquals(server.poll(), 1);
      await null; // the continuation writes the answer
      conn.write(new Uint8Array(20));
      client.poll();
      ds.log = [];
      assertEquals(server.poll(), 1);
      // The first answer left before the second request was received, in a burst of its own.
      assertEquals(ds.log, ["tx 1", "rx 1"]);
      await null;
      server.poll();
      for (let i = 0; got < 30 && i < 1000; i++) {
        client.poll();
        server.poll();
        await null;
      }
      assertEquals(got, 30);
      await client.close(100);
      await server.close(100);
    });

    test(`${mode}: a handler's operations take the poll's time, and outside a poll the clock's`, async () => {
      const { server, client } = await countedPair(mode, 256);
      const seen: number[] = [];
      server.listen(7, () => ({
        onData(c) {
          // The answer is sent at the time the write is given: the poll's.
          c.write(new Uint8Array(1));
          seen.push(c.tcb.lastSendAt, server.loop.clock());
          c.consume(c.pieceLength);
        },
      }));
      let open = false;
      const c = client.connect("198.18.0.1", 7, {
        onOpen: () => void (open = true),
        onData: (c) => c.consume(c.pieceLength),
      });
      for (let i = 0; i < 1000 && !open; i++) {
        server.poll();
        client.poll();
      }
      assert(open, "connection not open after 1000 polls");
      c.write(new Uint8Array(10));
      // A poll at a time of its own (1 s ahead of the clock): the handler sees that time.
      const at = performance.now() + 1000;
      for (let i = 0; i < 1000 && seen.length === 0; i++) {
        client.loop.poll(at);
        server.loop.poll(at);
      }
      assertEquals(seen, [at, at]);
      assert(server.loop.clock() < at, "outside a poll the clock is read");
      await client.close();
      await server.close();
    });
  }
});
