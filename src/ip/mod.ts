/**
 * IPv4, ARP and ICMP: the interface, the neighbour cache, the receive and
 * send paths, and their counters.
 *
 * @module
 */
export { IpCounters, type IpStats, Martian } from "./counters.ts";
export { type InterfaceConfig, IpInterface, parseInterface } from "./iface.ts";
export { NeighborCache, type NeighborOptions, type NeighborOwner } from "./neighbor.ts";
export {
  type EchoReplyHandler,
  ipHeadroom,
  IpLayer,
  type IpLayerOptions,
  type TcpReceiver,
} from "./ipv4_layer.ts";
