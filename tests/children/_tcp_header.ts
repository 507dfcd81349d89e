// Ethernet + IPv4 + TCP headers (no options) written in place for the device
// children that hand the shim hand-made segments (GSO, GRO and ring-full
// cases): no checksums, the addresses 198.18.9.2 -> 198.18.9.1 unless given.
import { TcpFlags } from "../../src/wire/mod.ts";

/** Length of the headers {@link writeTcpHeader} writes. */
export const tcpHeaderLen = 14 + 20 + 20;

/** What differs between the children's headers. */
export interface TcpHeaderFields {
  src?: number;
  dst?: number;
  srcPort?: number;
  dstPort?: number;
  ack?: number;
  flags?: number;
  window?: number;
}

/** Writes the headers at `bytes[o ..]` for `payload` bytes at sequence number `seq`. */
export function writeTcpHeader(
  bytes: Uint8Array,
  view: DataView,
  o: number,
  payload: number,
  seq: number,
  f: TcpHeaderFields = {},
): void {
  bytes.fill(0, o, o + tcpHeaderLen);
  bytes.fill(0xaa, o, o + 12);
  view.setUint16(o + 12, 0x0800);
  bytes[o + 14] = 0x45;
  view.setUint16(o + 16, 40 + payload);
  bytes[o + 22] = 64;
  bytes[o + 23] = 6;
  view.setUint32(o + 26, f.src ?? 0xc6120902);
  view.setUint32(o + 30, f.dst ?? 0xc6120901);
  view.setUint16(o + 34, f.srcPort ?? 0);
  view.setUint16(o + 36, f.dstPort ?? 0);
  view.setUint32(o + 38, seq);
  view.setUint32(o + 42, f.ack ?? 0);
  bytes[o + 46] = 5 << 4;
  bytes[o + 47] = f.flags ?? TcpFlags.ack;
  view.setUint16(o + 48, f.window ?? 0);
}
