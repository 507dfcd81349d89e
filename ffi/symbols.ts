/**
 * The one table of native symbols: every function of the C shim
 * (c-shims/luna_shim.h) with its signature. Bun and Deno binders both read
 * this table; nothing else in luna-ts names a native symbol.
 *
 * Keep it in step with luna_shim.h and bump {@link SHIM_ABI} with it.
 *
 * @module
 */

/** Native argument and result kinds, named for what they carry. */
export type NativeType = "i32" | "u32" | "buffer" | "pointer" | "void";

/** One native function: its parameter kinds and its result kind. */
export interface SymbolDef {
  /** Parameter kinds, in order. */
  readonly parameters: readonly NativeType[];
  /** Result kind. */
  readonly result: NativeType;
}

/** ABI version the TypeScript side expects (LUNA_SHIM_ABI in luna_shim.h). */
export const SHIM_ABI = 12;

/** Words per descriptor record (LUNA_DESC_WORDS). */
export const DESC_WORDS = 4;
/** Most records one burst call moves (LUNA_BURST_MAX). */
export const BURST_MAX = 512;
/** Records one transmitted packet may span (LUNA_CHAIN_RECORDS_MAX). */
export const CHAIN_RECORDS_MAX = 128;
/** Segments one large TCP packet may be cut into (LUNA_GSO_SEGS_MAX). */
export const GSO_SEGS_MAX = 64;
/**
 * Set in luna_tx_burst's result beside the records taken (LUNA_BURST_BACKLOG):
 * the shim holds segments it sends first at the next call on the queue.
 */
export const BURST_BACKLOG = 1 << 16;
/** Where the MSS of a segmentation request sits in word 2 (LUNA_SEG_MSS_SHIFT). */
export const SEG_MSS_SHIFT = 16;

/** Offload bits (LUNA_OFFLOAD_*), used for capabilities and requests. */
export const Offload = {
  ipv4Cksum: 1 << 0,
  tcpCksum: 1 << 1,
  udpCksum: 1 << 2,
  rssHash: 1 << 3,
  tcpTso: 1 << 4,
  /** Transmit only: the port sends chains, and the shim cuts large TCP segments in software (GSO). */
  tcpGso: 1 << 5,
  /** Receive only: the port coalesces in-order TCP segments of a flow (LRO). */
  tcpLro: 1 << 6,
} as const;

/** Flags of luna_port_configure (LUNA_PORT_*). */
export const PortFlag = {
  /**
   * The PMD carries frames of any length whatever limit it advertises
   * (net_memif chains its packet buffers): an MTU above that limit is kept
   * by the shim alone, which drops longer received frames.
   */
  mtuPmdUnbounded: 1 << 0,
  /**
   * The link needs no checksums (net_memif): the shim neither fills nor
   * verifies them, and reports received ones good. Both ends must agree.
   */
  noCksum: 1 << 1,
  /**
   * Coalesce received TCP segments in software (DPDK's GRO library): in each
   * receive burst, in-order segments of one flow become one chained packet.
   */
  gro: 1 << 2,
  /**
   * The PMD's transmit is handed at most 4 packets a call: DPDK's memif in
   * zero-copy overruns its ring when a larger burst mixes chained packets
   * with single ones (see luna_shim.h).
   */
  txQuads: 1 << 3,
} as const;

/** RSS hash function bits (LUNA_RSS_*). */
export const Rss = {
  ipv4: 1 << 0,
  ipv4Tcp: 1 << 1,
  ipv4Udp: 1 << 2,
} as const;

/** Receive descriptor flags (LUNA_RX_*), word 2 of a received record. */
export const RxFlag = {
  ipCksumGood: 1 << 0,
  ipCksumBad: 1 << 1,
  l4CksumGood: 1 << 2,
  l4CksumBad: 1 << 3,
  rssHash: 1 << 4,
  /** The next record continues this packet (a received chain). */
  more: 1 << 5,
} as const;

/** Transmit descriptor flags (LUNA_TX_*), word 2 of a record to send. */
export const TxFlag = {
  ipv4: 1 << 8,
  ipCksum: 1 << 9,
  tcpCksum: 1 << 10,
  udpCksum: 1 << 11,
  /** The next record continues this packet (a chain). */
  more: 1 << 12,
  /** Cut the packet into TCP segments of at most the MSS in bits 16..31 (first record). */
  tcpSeg: 1 << 13,
} as const;

/** Word indexes of luna_pool_info (enum LUNA_POOL_INFO_*). */
export const PoolInfo = {
  count: 0,
  cache: 1,
  dataRoom: 2,
  headroom: 3,
  dataRoomOffset: 4,
  refcntOffset: 5,
  lenLo: 6,
  lenHi: 7,
  words: 8,
} as const;

/** Word indexes of luna_port_info (enum LUNA_PORT_INFO_*). */
export const PortInfo = {
  maxRxQueues: 0,
  maxTxQueues: 1,
  rxOffloads: 2,
  txOffloads: 3,
  rssHashes: 4,
  retaSize: 5,
  rxDescMax: 6,
  txDescMax: 7,
  maxRxPktLen: 8,
  mtu: 9,
  socket: 10,
  ifIndex: 11,
  started: 12,
  rxHeld: 13,
  words: 14,
} as const;

/** Indexes of luna_port_stats values (enum LUNA_STAT_*). */
export const PortStat = {
  ipackets: 0,
  opackets: 1,
  ibytes: 2,
  obytes: 3,
  imissed: 4,
  ierrors: 5,
  oerrors: 6,
  rxNombuf: 7,
  rxForeignDropped: 8,
  rxMultisegDropped: 9,
  txInvalidRefused: 10,
  rxOversizeDropped: 11,
  txSegPackets: 12,
  txSegSegments: 13,
  txSegDropped: 14,
  txChainNoMbuf: 15,
  rxGroPackets: 16,
  rxGroSegments: 17,
  rxChains: 18,
  rxRingDropped: 19,
  rxLroPackets: 20,
  rxVnetDropped: 21,
  txRefused: 22,
  txPmdCalls: 23,
  rxGroCalls: 24,
  words: 25,
} as const;

const fn = <const P extends readonly NativeType[], const R extends NativeType>(
  parameters: P,
  result: R,
): Sig<P, R> => ({ parameters, result });

/** Every symbol of the shim. */
/** A native function's signature: its parameters' types and its result's. */
export interface Sig<P extends readonly NativeType[], R extends NativeType> {
  /** Parameter kinds, in order. */
  readonly parameters: P;
  /** Result kind. */
  readonly result: R;
}

/** Every symbol of the shim, as a type (kept equal to {@link symbols} by the compiler). */
export type ShimSymbolTable = {
  readonly luna_shim_abi: Sig<readonly [], "i32">;
  readonly luna_shim_build_id: Sig<readonly ["buffer", "u32"], "i32">;
  readonly luna_last_error: Sig<readonly ["buffer", "u32"], "i32">;
  readonly luna_log_echo: Sig<readonly ["i32"], "void">;
  readonly luna_eal_init: Sig<readonly ["buffer", "u32", "i32"], "i32">;
  readonly luna_eal_cleanup: Sig<readonly [], "i32">;
  readonly luna_thread_register: Sig<readonly [], "i32">;
  readonly luna_thread_unregister: Sig<readonly [], "i32">;
  readonly luna_pool_create: Sig<readonly ["buffer", "u32", "u32", "u32", "u32"], "i32">;
  readonly luna_pool_base: Sig<readonly ["i32"], "pointer">;
  readonly luna_pool_marks: Sig<readonly ["i32"], "pointer">;
  readonly luna_pool_info: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_pool_avail: Sig<readonly ["i32"], "i32">;
  readonly luna_pool_free: Sig<readonly ["i32", "i32"], "i32">;
  readonly luna_mem_shareable: Sig<readonly [], "i32">;
  readonly luna_alloc_bulk: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_free_bulk: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_refcnt_update: Sig<readonly ["i32", "buffer", "u32", "i32"], "i32">;
  readonly luna_copy_in: Sig<readonly ["i32", "buffer", "u32", "u32", "buffer", "u32"], "i32">;
  readonly luna_port_count: Sig<readonly [], "i32">;
  readonly luna_port_find: Sig<readonly ["buffer", "u32"], "i32">;
  readonly luna_port_attach: Sig<readonly ["buffer", "u32"], "i32">;
  readonly luna_port_name: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_port_driver: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_port_info: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_port_configure: Sig<
    readonly ["i32", "i32", "u32", "u32", "u32", "u32", "u32", "u32", "u32", "u32", "u32"],
    "i32"
  >;
  readonly luna_port_start: Sig<readonly ["i32"], "i32">;
  readonly luna_port_stop: Sig<readonly ["i32"], "i32">;
  readonly luna_port_close: Sig<readonly ["i32"], "i32">;
  readonly luna_port_remove: Sig<readonly ["i32"], "i32">;
  readonly luna_port_promiscuous: Sig<readonly ["i32", "i32"], "i32">;
  readonly luna_port_mac: Sig<readonly ["i32", "buffer"], "i32">;
  readonly luna_port_link: Sig<readonly ["i32", "buffer"], "i32">;
  readonly luna_port_stats: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_port_stats_reset: Sig<readonly ["i32"], "i32">;
  readonly luna_port_xstats_names: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_port_xstats: Sig<readonly ["i32", "buffer", "u32"], "i32">;
  readonly luna_ring_pair: Sig<readonly ["buffer", "u32", "u32", "buffer"], "i32">;
  readonly luna_rx_burst: Sig<readonly ["i32", "i32", "buffer", "u32"], "i32">;
  readonly luna_tx_burst: Sig<readonly ["i32", "i32", "i32", "buffer", "u32"], "i32">;
};

/** Every symbol of the shim, by name. */
export const symbols: ShimSymbolTable = {
  luna_shim_abi: fn([], "i32"),
  luna_shim_build_id: fn(["buffer", "u32"], "i32"),
  luna_last_error: fn(["buffer", "u32"], "i32"),
  luna_log_echo: fn(["i32"], "void"),

  luna_eal_init: fn(["buffer", "u32", "i32"], "i32"),
  luna_eal_cleanup: fn([], "i32"),
  luna_thread_register: fn([], "i32"),
  luna_thread_unregister: fn([], "i32"),

  luna_pool_create: fn(["buffer", "u32", "u32", "u32", "u32"], "i32"),
  luna_pool_base: fn(["i32"], "pointer"),
  luna_pool_marks: fn(["i32"], "pointer"),
  luna_pool_info: fn(["i32", "buffer", "u32"], "i32"),
  luna_pool_avail: fn(["i32"], "i32"),
  luna_pool_free: fn(["i32", "i32"], "i32"),
  luna_mem_shareable: fn([], "i32"),
  luna_alloc_bulk: fn(["i32", "buffer", "u32"], "i32"),
  luna_free_bulk: fn(["i32", "buffer", "u32"], "i32"),
  luna_refcnt_update: fn(["i32", "buffer", "u32", "i32"], "i32"),
  luna_copy_in: fn(["i32", "buffer", "u32", "u32", "buffer", "u32"], "i32"),

  luna_port_count: fn([], "i32"),
  luna_port_find: fn(["buffer", "u32"], "i32"),
  luna_port_attach: fn(["buffer", "u32"], "i32"),
  luna_port_name: fn(["i32", "buffer", "u32"], "i32"),
  luna_port_driver: fn(["i32", "buffer", "u32"], "i32"),
  luna_port_info: fn(["i32", "buffer", "u32"], "i32"),
  luna_port_configure: fn(
    ["i32", "i32", "u32", "u32", "u32", "u32", "u32", "u32", "u32", "u32", "u32"],
    "i32",
  ),
  luna_port_start: fn(["i32"], "i32"),
  luna_port_stop: fn(["i32"], "i32"),
  luna_port_close: fn(["i32"], "i32"),
  luna_port_remove: fn(["i32"], "i32"),
  luna_port_promiscuous: fn(["i32", "i32"], "i32"),
  luna_port_mac: fn(["i32", "buffer"], "i32"),
  luna_port_link: fn(["i32", "buffer"], "i32"),
  luna_port_stats: fn(["i32", "buffer", "u32"], "i32"),
  luna_port_stats_reset: fn(["i32"], "i32"),
  luna_port_xstats_names: fn(["i32", "buffer", "u32"], "i32"),
  luna_port_xstats: fn(["i32", "buffer", "u32"], "i32"),
  luna_ring_pair: fn(["buffer", "u32", "u32", "buffer"], "i32"),

  luna_rx_burst: fn(["i32", "i32", "buffer", "u32"], "i32"),
  luna_tx_burst: fn(["i32", "i32", "i32", "buffer", "u32"], "i32"),
} as const satisfies Record<string, SymbolDef>;

/** The symbols needed to tell whether a library is the shim we expect. */
export const identitySymbols: Pick<ShimSymbolTable, "luna_shim_abi" | "luna_shim_build_id"> = {
  luna_shim_abi: symbols.luna_shim_abi,
  luna_shim_build_id: symbols.luna_shim_build_id,
} as const satisfies Record<string, SymbolDef>;

/** An opaque native address, as the runtime represents it. */
export type NativePointer = { readonly __native: unique symbol } | number | null;

/** The TypeScript type of an argument of kind `T`. */
export type ArgOf<T extends NativeType> = T extends "buffer" ? ArrayBufferView | null
  : T extends "pointer" ? NativePointer
  : number;
/** The TypeScript type of a result of kind `T`. */
export type ResultOf<T extends NativeType> = T extends "void" ? void
  : T extends "pointer" ? NativePointer
  : number;
/** The TypeScript types of the arguments of kinds `P`. */
export type ArgsOf<P extends readonly NativeType[]> = { -readonly [I in keyof P]: ArgOf<P[I]> };

/** Callable form of a symbol table. */
export type Bound<T extends Record<string, SymbolDef>> = {
  readonly [K in keyof T]: (...args: ArgsOf<T[K]["parameters"]>) => ResultOf<T[K]["result"]>;
};

/** The shim's functions as TypeScript calls them. */
export type ShimSymbols = Bound<ShimSymbolTable>;
