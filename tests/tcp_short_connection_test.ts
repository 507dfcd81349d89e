// A short connection, segment by segment: a request, its answer and the
// server's close. The answer carries the ACK of the request (no window update
// of its own after the handshake) and, corked with the close, the FIN too:
// three segments from the server (SYN|ACK, answer|FIN, the ACK of the
// client's FIN), as the kernel's TCP sends with TCP_CORK.
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established, FIN, PSH, RST } from "./tcp_dialogue.ts";

// The peer scales its window, so that A's own window (1 MiB) is wider than the SYN's 64 KiB.
const scaled = { peer: { ws: 7 } };

describe("short connection", () => {
  test("a request read after the handshake is ACKed by its answer, not by a window update first", () => {
    const d = established(scaled);
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 }); // read at once (autoRead)
    d.recvNothing(10); // the 64 KiB of the SYN had not shrunk: no update is owed
    d.write(50);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 101, len: 50 });
  });

  test("a window shrunk below half of what the peer was told is still updated at once (RFC 9293 3.8.6.2.2)", () => {
    const d = established({ ...scaled, autoRead: false, tcp: { rcvBufBytes: 200_000 } });
    let seq = 1;
    for (let i = 0; i < 80; i++, seq += 1460) d.send({ flags: ACK, seq, ack: 1, payload: 1460 });
    d.run(100);
    d.queue.splice(0); // the ACKs of the data
    const unread = seq - 1;
    d.tcp.consume(d.tcb!, unread, d.now); // 116800 of 200000 read: the window had shrunk below half
    const s = d.expect({ flags: ACK, seq: 1, ack: seq });
    assertEquals(s.window << 7 >= 150_000, true);
  });

  test("cork, write, close, uncork: the answer and the FIN leave in one segment", () => {
    const d = established(scaled);
    d.onData = (c) => {
      d.tcp.cork(c);
      d.write(50);
      d.close();
      d.tcp.uncork(c, d.now);
    };
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: FIN | PSH | ACK, seq: 1, ack: 101, len: 50 });
    d.recvNothing(10);
    assertEquals(d.state(), "FIN-WAIT-1");
    d.send({ flags: FIN | ACK, seq: 101, ack: 52 });
    d.expect({ flags: ACK, seq: 52, ack: 102 });
    assertEquals(d.state(), "TIME-WAIT");
  });

  test("without cork the write leaves at once and the FIN after it, in a second segment", () => {
    const d = established(scaled);
    d.onData = () => {
      d.write(50);
      d.close();
    };
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: PSH | ACK, seq: 1, ack: 101, len: 50 });
    d.expect({ flags: FIN | ACK, seq: 51, ack: 101 });
  });

  test("uncork of a connection that closed meanwhile sends nothing and throws nothing", () => {
    const d = established(scaled);
    const c = d.tcb!;
    d.tcp.cork(c);
    d.write(50);
    d.tcp.abort(c, d.now);
    d.expect({ flags: RST | ACK });
    d.tcp.uncork(c, d.now);
    d.recvNothing(10);
  });

  test("a cork never uncorked lasts the loop's iteration: its data leaves at the next poll", () => {
    const d = established(scaled);
    const c = d.tcb!;
    d.tcp.cork(c);
    d.write(50);
    assertEquals(c.corked, true);
    d.expect({ flags: PSH | ACK, seq: 1, ack: 1, len: 50 });
    assertEquals(c.corked, false);
  });
});
