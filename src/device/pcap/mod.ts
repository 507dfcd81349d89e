/**
 * The pcap tap: wraps any device and records its frames in a pcap file that
 * tcpdump and Wireshark open; see {@link PcapTap} and {@link PcapWriter}.
 *
 * @module
 */
export { PcapTap, type PcapTapOptions } from "./tap.ts";
export {
  linktypeEthernet,
  pcapHeaderLen,
  pcapMagicMicro,
  pcapMagicNano,
  pcapRecordHeaderLen,
  PcapWriter,
  type PcapWriterOptions,
} from "./writer.ts";
