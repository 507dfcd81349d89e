// The receive window a connection offers (src/tcp/window.ts): bounded by the
// connection's share of the zone at what each buffer holds, where one segment
// spans several buffers (a loopback-class MTU over memif: an MSS of 65481 in
// chains of 9 KiB buffers).
import { assert, assertEquals } from "@std/assert";
import { createHeapZone } from "../src/mem/mod.ts";
import type { CongestionControl } from "../src/tcp/congestion.ts";
import { TcpCounters } from "../src/tcp/counters.ts";
import { PoolPressure, recvShareMin } from "../src/tcp/pool_pressure.ts";
import type { RtoEstimator } from "../src/tcp/rto.ts";
import { Tcb } from "../src/tcp/tcb.ts";
import { bytesPerBuffer, receiveWindow } from "../src/tcp/window.ts";
import { describe, test } from "./harness.ts";

/** A connection of `mss` with a 4 MiB receive buffer and window scaling, its state what receiveWindow reads. */
function connection(zone: ReturnType<typeof createHeapZone>, mss: number): Tcb {
  const tcb = new Tcb(
    1,
    zone,
    { ip: 1, port: 1 },
    { ip: 2, port: 2 },
    false,
    undefined as unknown as RtoEstimator, // not read by receiveWindow
    undefined as unknown as CongestionControl,
    { snd: 1 << 20, sndMax: 1 << 20, rcv: 4 << 20 },
  );
  tcb.sndMss = mss;
  tcb.rcvScale = 7;
  return tcb;
}

describe("tcp window", () => {
  test("a segment longer than a buffer: the window is the share's buffers times what a buffer holds", () => {
    // 9152-byte buffers (a jumbo frame's), 9024 of payload each after the headroom.
    const zone = createHeapZone({ count: 4096, dataRoom: 9152 });
    const pool = new PoolPressure(zone, new TcpCounters());
    pool.connections = 64; // half the zone split 64 ways: 32 buffers, below the floor
    assertEquals(pool.recvShare(), recvShareMin);
    assertEquals(pool.bufferBytes, 9152 - zone.headroom);
    const big = connection(zone, 65481);
    // A full segment's frame (65535 bytes) spans 8 buffers, the last partly filled: 8185 bytes each.
    assertEquals(bytesPerBuffer(pool, big), 8185);
    const w = receiveWindow(pool, big);
    // 48 buffers of 8185 bytes, rounded down to the window scale: not 48 segments of 64 KiB (3 MiB),
    // nor 48 full buffers (433 KB, past the 6 full segments that 48 buffers hold).
    assert(w <= recvShareMin * 8185 && w > recvShareMin * 8185 - 128, `window ${w}`);
    // A segment that fits a buffer: a segment per buffer, as before.
    const small = connection(zone, 8960);
    assertEquals(bytesPerBuffer(pool, small), 8960);
    const ws = receiveWindow(pool, small);
    assert(ws <= recvShareMin * 8960 && ws > recvShareMin * 8960 - 128, `window ${ws}`);
  });
});
