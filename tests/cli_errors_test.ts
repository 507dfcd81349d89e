// The first errors a user of `luna serve` meets name the option at fault, in
// one line: unusable addresses, paths whose directory is missing, and a
// device DPDK cannot make (issue: hardening, command line).
import { assert, assertEquals, assertInstanceOf, assertStringIncludes, assertThrows } from "@std/assert";
import { existsSync } from "node:fs";
import { parseArgs, UsageError, usageOfConfigError } from "../src/cli/args.ts";
import { ConfigError, parseStackConfig } from "../src/mod.ts";
import { explain, removeEalFiles, runChild, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import { interopLab, lunaScript } from "./lab_peers.ts";

function refusal(config: Record<string, unknown>): ConfigError {
  try {
    parseStackConfig({ device: "memif:/tmp/luna-cli.sock,server", address: "198.18.0.1/24", ...config });
  } catch (e) {
    assertInstanceOf(e, ConfigError);
    return e;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

describe("command-line errors", () => {
  test("an address no host may use is refused, naming --address and why", () => {
    const cases: [string, string][] = [
      ["0.0.0.0/0", "prefix of 0"],
      ["198.18.0.1/0", "prefix of 0"],
      ["0.0.0.0/24", "this network"],
      ["255.255.255.255/24", "limited broadcast"],
      ["198.18.0.0/24", "network address"],
      ["198.18.0.255/24", "broadcast address"],
      ["224.0.0.1/24", "multicast"],
      ["127.0.0.1/8", "loopback"],
      ["240.0.0.1/24", "class E"],
    ];
    for (const [address, why] of cases) {
      const e = refusal({ address });
      assertEquals(e.field, "address", address);
      const u = usageOfConfigError(e);
      assertEquals(u.arg, "--address");
      assertStringIncludes(u.message, why, address);
    }
    // A /31 has no network or broadcast address (RFC 3021); a /32 is one host.
    for (const address of ["198.18.0.0/31", "198.18.0.1/31", "198.18.0.7/32"]) {
      parseStackConfig({ device: "memif:/tmp/luna-cli.sock,server", address });
    }
  });

  test("paths whose directory does not exist name their option", () => {
    const memif = refusal({ device: "memif:/nonexistent/dir/m.sock,server" });
    assertEquals(usageOfConfigError(memif).arg, "--device");
    assertStringIncludes(memif.message, "'/nonexistent/dir' does not exist");
    const pcap = refusal({ pcap: "/nonexistent/dir/x.pcap" });
    assertEquals(usageOfConfigError(pcap).arg, "--pcap");
    assertStringIncludes(pcap.message, "does not exist");
  });

  test("a device DPDK has no driver for: one line naming --device, and nothing left in /var/run/dpdk", async () => {
    const prefix = uniquePrefix("cli-bogus");
    const r = await runChild(lunaScript, [
      "serve",
      "echo",
      "--device",
      "eal:net_bogus0",
      "--address",
      "198.18.0.1/24",
      "--prefix",
      prefix,
    ], { timeoutMs: 60_000 });
    assert(r.code !== 0 && r.code !== null, explain(r));
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, explain(r));
    assertStringIncludes(lines[0], "--device: DPDK has no driver that makes 'net_bogus0'");
    assert(
      !existsSync(`/var/run/dpdk/${prefix}`) && !existsSync(`/run/dpdk/${prefix}`),
      "the runtime directory is gone",
    );
  });

  test("raw device arguments with a key and no value: one line naming --device, before DPDK sees them", async () => {
    // DPDK's af_packet driver reads such a key's value as a string: it was a crash (strlen of null).
    for (const device of ["eal:net_af_packet0,iface", "eal:net_tap0,iface=x,remote"]) {
      const prefix = uniquePrefix("cli-novalue");
      const r = await runChild(lunaScript, [
        "serve",
        "echo",
        "--device",
        device,
        "--address",
        "198.18.0.1/24",
        "--prefix",
        prefix,
      ], { timeoutMs: 60_000 });
      assertEquals(r.code, 2, explain(r)); // a usage error
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, explain(r));
      assertStringIncludes(lines[0], "--device: raw device arguments after the name are KEY=VALUE");
      assert(!existsSync(`/var/run/dpdk/${prefix}`), "DPDK was never started");
    }
  });

  test("--workers above the device's queue pairs: one line naming --workers (af_packet has one)", async () => {
    const lab = interopLab();
    const prefix = uniquePrefix("cli-workers");
    try {
      const r = await runChild(lunaScript, [
        "serve",
        "echo",
        "--device",
        `af_packet:${lab.luna.iface}`,
        "--address",
        lab.luna.cidr,
        "--workers",
        "3",
        "--prefix",
        prefix,
      ], { timeoutMs: 60_000, wrap: lab.wrap("luna") });
      assert(r.code !== 0 && r.code !== null, explain(r));
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, explain(r));
      assertStringIncludes(lines[0], "--workers: net_af_packet0 has 1 queue pair(s), 3 asked");
    } finally {
      lab.close();
      removeEalFiles(prefix);
    }
  });

  test("--backlog N sets the listener's backlog (1024 unless given); 0 or a word is refused naming it", () => {
    const base = ["serve", "http", "--device", "memif:/tmp/x.sock,server", "--address", "198.18.9.1/24"];
    const plain = parseArgs(base);
    assert(plain.kind === "serve");
    assertEquals(plain.options.config.tcp?.backlog, 1024);
    const set = parseArgs([...base, "--backlog", "64"]);
    assert(set.kind === "serve");
    assertEquals(set.options.config.tcp?.backlog, 64);
    for (const bad of ["0", "many"]) {
      const e = assertThrows(() => parseArgs([...base, "--backlog", bad]), UsageError);
      assertStringIncludes(e.message, "--backlog");
    }
  });

  test("--congestion picks the controller (the library's default unless given); an unknown name is refused", () => {
    const base = ["serve", "http", "--device", "memif:/tmp/x.sock,server", "--address", "198.18.9.1/24"];
    const plain = parseArgs(base);
    assert(plain.kind === "serve");
    assertEquals(plain.options.config.tcp?.congestion, undefined);
    const set = parseArgs([...base, "--congestion", "bbr"]);
    assert(set.kind === "serve");
    assertEquals(set.options.config.tcp?.congestion, "bbr");
    const e = assertThrows(() => parseArgs([...base, "--congestion", "vegas"]), UsageError);
    assertStringIncludes(e.message, "--congestion");
  });
});
