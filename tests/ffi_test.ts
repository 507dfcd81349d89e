import { assert, assertEquals, assertInstanceOf, assertRejects, assertStringIncludes } from "@std/assert";
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  defaultShimPath,
  DESC_WORDS,
  BURST_MAX,
  BURST_BACKLOG,
  CHAIN_RECORDS_MAX,
  GSO_SEGS_MAX,
  SEG_MSS_SHIFT,
  Offload,
  openShim,
  PoolInfo,
  PortInfo,
  PortStat,
  PortFlag,
  RxFlag,
  Rss,
  SHIM_ABI,
  shimSourceHash,
  shimSources,
  symbols,
  TxFlag,
} from "../ffi/mod.ts";
import { ShimLoadError, ShimMissingError, ShimStaleError } from "../src/errors.ts";
import { tempDir } from "./child.ts";
import { describe, test } from "./harness.ts";

const header = readFileSync(new URL("../c-shims/luna_shim.h", import.meta.url), "utf8");

function defines(): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(/#define (LUNA_\w+) \(?(\d+)u?(?: << (\d+))?\)?/g)) {
    out.set(m[1], m[3] === undefined ? Number(m[2]) : Number(m[2]) << Number(m[3]));
  }
  return out;
}

function enumValues(prefix: string): Map<string, number> {
  const start = header.lastIndexOf("enum {", header.indexOf(prefix));
  const block = header.slice(start, header.indexOf("};", start));
  const out = new Map<string, number>();
  let i = 0;
  for (const m of block.matchAll(/\b(LUNA_\w+)\s*,/g)) out.set(m[1], i++);
  return out;
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

describe("ffi", () => {
  test("loads the shim and finds the ABI these sources expect", async () => {
    const shim = await openShim();
    assertEquals(shim.symbols.luna_shim_abi(), SHIM_ABI);
    assertEquals(shim.path, defaultShimPath);
  });

  test("the symbol table names every function the header declares", () => {
    const declared = [...header.matchAll(/^(?:int32_t |void \*|void )(luna_\w+)\(/gm)].map((m) => m[1]).sort();
    assertEquals(Object.keys(symbols).sort(), declared);
  });

  test("constants agree with the header", () => {
    const d = defines();
    assertEquals(d.get("LUNA_SHIM_ABI"), SHIM_ABI);
    assertEquals(d.get("LUNA_DESC_WORDS"), DESC_WORDS);
    assertEquals(d.get("LUNA_BURST_MAX"), BURST_MAX);
    assertEquals(d.get("LUNA_CHAIN_RECORDS_MAX"), CHAIN_RECORDS_MAX);
    assertEquals(d.get("LUNA_GSO_SEGS_MAX"), GSO_SEGS_MAX);
    assertEquals(d.get("LUNA_SEG_MSS_SHIFT"), SEG_MSS_SHIFT);
    assertEquals(d.get("LUNA_BURST_BACKLOG"), BURST_BACKLOG);
    for (
      const [group, prefix] of [
        [Offload, "LUNA_OFFLOAD_"],
        [Rss, "LUNA_RSS_"],
        [RxFlag, "LUNA_RX_"],
        [TxFlag, "LUNA_TX_"],
        [PortFlag, "LUNA_PORT_"],
      ] as const
    ) {
      const expected: Record<string, number> = {};
      for (const [k, v] of d) if (k.startsWith(prefix)) expected[camel(k.slice(prefix.length))] = v;
      assertEquals({ ...group }, expected, prefix);
    }
    // Each TypeScript index table lists the header's enum in order, and `words` counts it.
    for (const [table, first] of [[PoolInfo, "LUNA_POOL_INFO_COUNT"], [PortInfo, "LUNA_PORT_INFO_MAX_RXQ"], [
      PortStat,
      "LUNA_STAT_IPACKETS",
    ]] as const) {
      const n = enumValues(first).size;
      const values = Object.entries(table).filter(([k]) => k !== "words").map(([, v]) => v);
      assertEquals(values, [...Array(n).keys()], first);
      assertEquals(table.words, n, first);
    }
  });

  test("a library that is not there is ShimMissingError", async () => {
    const e = await assertRejects(() => openShim({ path: "/nonexistent/libluna_shim.so" }), ShimMissingError);
    assertStringIncludes(e.message, "make shim");
  });

  test("a file that is not a library is ShimLoadError", async () => {
    const dir = tempDir("ffi");
    const path = join(dir, "garbage.so");
    writeFileSync(path, "this is not an ELF file");
    await assertRejects(() => openShim({ path }), ShimLoadError, "cannot load");
  });

  test("a library of another ABI is ShimStaleError", async () => {
    const dir = tempDir("ffi");
    writeFileSync(
      join(dir, "old.c"),
      '#include <stdint.h>\n#include <string.h>\nint32_t luna_shim_abi(void) { return 0; }\n' +
        "int32_t luna_shim_build_id(uint8_t *o, uint32_t c) { if (c) o[0] = 0; return 0; }\n",
    );
    execFileSync("gcc", ["-shared", "-fPIC", "-o", join(dir, "old.so"), join(dir, "old.c")]);
    await assertRejects(() => openShim({ path: join(dir, "old.so") }), ShimStaleError, "ABI is 0");
  });

  test("a library built from other sources is ShimStaleError", async () => {
    const dir = tempDir("ffi");
    for (const f of shimSources) {
      copyFileSync(new URL(`../c-shims/${f}`, import.meta.url), join(dir, f));
    }
    assertEquals(shimSourceHash(dir), shimSourceHash());
    writeFileSync(join(dir, "luna_shim.c"), readFileSync(join(dir, "luna_shim.c"), "utf8") + "\n/* changed */\n");
    const e = await assertRejects(() => openShim({ sourceDir: dir }), ShimStaleError, "rebuild");
    assertInstanceOf(e, ShimStaleError);
  });

  test("pool and port calls before the EAL runs fail with an error, not a crash", async () => {
    const shim = await openShim();
    const name = new TextEncoder().encode("early");
    assert(shim.symbols.luna_pool_create(name, name.length, 64, 0, 2176) < 0);
    assertStringIncludes(shim.lastError(), "EAL is not running");
    assert(shim.symbols.luna_port_count() < 0);
    assert(shim.symbols.luna_rx_burst(0, 0, new Uint32Array(DESC_WORDS * 4), 4) < 0);
    assert(shim.symbols.luna_tx_burst(0, 0, 0, new Uint32Array(DESC_WORDS * 4), 4) < 0);
  });
});
