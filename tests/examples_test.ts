// Every program of examples/ started as its header says and exercised by
// real peers: in a namespace lab (luna-ts on net_af_packet, the kernel's TCP
// and its tools on the other side) nc against the echo in both loop modes and
// the key-value server, curl against serve() (streaming both ways: the
// interop test of the Web-standard server) and node:http / node:https (a
// certificate made here with openssl), the luna-ts HTTP client against a
// kernel server; in a lab whose interface keeps its kernel address, luna-ts
// and a kernel service on one address; and per-core workers over memif,
// driven by a luna-ts peer with as many workers. Needs root and the tools of
// scripts/setup.sh; a missing one fails the test, naming it.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab, type Lab, requireLabTools } from "../src/lab/netns.ts";
import { Child, explain, removeEalFiles, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import { KernelLab } from "./kernel_lab.ts";
import { fileSha256, interopTools, sh, within } from "./lab_peers.ts";

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

/** An example running in a lab's namespace, with its own EAL prefix. */
class Running {
  readonly child: Child;
  readonly prefix: string;
  constructor(name: string, args: string[], wrap: string[]) {
    this.prefix = uniquePrefix(`example-${name.replace(/\W/g, "")}`);
    this.child = new Child(example(name), [...args, "--prefix", this.prefix], { wrap, timeoutMs: 60_000 });
  }
  ready(): Promise<string> {
    return this.child.waitFor(/^READY/, 30_000);
  }
  /** SIGINT, and the clean exit the example owes it. */
  async stop(): Promise<void> {
    // process.kill, not ChildProcess.kill: see stopLuna in lab_peers.ts.
    process.kill(this.child.process.pid!, "SIGINT");
    const r = await within(this.child.done(), 20_000, `${this.child.name} after SIGINT`);
    assertEquals(r.code, 0, explain(r));
  }
  kill(): void {
    if (this.child.process.exitCode === null && this.child.process.signalCode === null) {
      this.child.process.kill("SIGKILL");
    }
    removeEalFiles(this.prefix);
  }
}

async function withExample(
  name: string,
  args: string[],
  wrap: string[],
  body: () => Promise<void>,
): Promise<void> {
  const r = new Running(name, args, wrap);
  try {
    await r.ready();
    await body();
    await r.stop();
  } finally {
    r.kill();
  }
}

describe("examples", () => {
  test(
    "in a namespace lab: echo (batch, inline), serve() with streaming, node:http and node:https, the pipelined key-value server, the HTTP client",
    async () => {
      requireLabTools([...interopTools, "openssl", "python3"]);
      const lab: Lab = createLab({ prefix: "luna-test" });
      const dir = tempDir("examples");
      try {
        const dev = ["--device", `af_packet:${lab.luna.iface}`, "--address", lab.luna.cidr];
        const wrap = lab.wrap("luna");
        const ip = lab.luna.ip;
        const data = join(dir, "data.bin");
        execFileSync("sh", ["-c", `head -c 100000 /dev/urandom > ${data}`]);
        const dataSha = fileSha256(data);

        for (const mode of ["batch", "inline"]) {
          await withExample("echo.ts", [...dev, "--mode", mode], wrap, async () => {
            const r = await sh(lab, "kernel", `nc -N -w 10 ${ip} 7 < ${data} | sha256sum`);
            assertEquals(r.stdout.split(" ")[0], dataSha, `echo, ${mode}: 100 KB back byte-exact`);
          });
        }

        await withExample("serve_stream.ts", dev, wrap, async () => {
          const base = `http://${ip}:8000`;
          const s = await sh(lab, "kernel", `curl -sS --fail -m 10 -D - -o - '${base}/stream?n=3'`);
          assertStringIncludes(s.stdout.toLowerCase(), "transfer-encoding: chunked");
          assert(s.stdout.endsWith("line 1 of 3\nline 2 of 3\nline 3 of 3\n"), s.stdout);
          const text = join(dir, "text.txt");
          writeFileSync(text, "streamed through luna-ts, ".repeat(4000));
          const up = await sh(
            lab,
            "kernel",
            `curl -sS --fail -m 10 -H 'Transfer-Encoding: chunked' --data-binary @${text} ${base}/upper | sha256sum`,
          );
          const want = execFileSync("sh", ["-c", `tr a-z A-Z < ${text} | sha256sum`], { encoding: "utf8" });
          assertEquals(up.stdout, want, "a chunked upload, upper-cased as it streams");
          const ka = await sh(
            lab,
            "kernel",
            `curl -sS --fail -m 10 -o /dev/null -o /dev/null -w '%{num_connects} ' ${base}/ ${base}/`,
          );
          assertEquals(ka.stdout.trim(), "1 0", "two requests on one kept-alive connection");
        });

        const key = join(dir, "key.pem");
        const cert = join(dir, "cert.pem");
        execFileSync("openssl", [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=luna.test",
        ], { stdio: "ignore", timeout: 30_000 });
        await withExample("node_http.ts", [...dev, "--cert", cert, "--key", key], wrap, async () => {
          for (const [scheme, word] of [["http", "http"], ["https", "https"]]) {
            const r = await sh(
              lab,
              "kernel",
              `curl -sS --fail -m 10 -k -w '%{num_connects}\\n' ${scheme}://${ip}/hello ${scheme}://${ip}/hello`,
            );
            const line = `hello over ${word} on luna-ts\n`;
            assertEquals(r.stdout, `${line}1\n${line}0\n`, `${scheme}: answered twice on one connection`);
            const h = await sh(
              lab,
              "kernel",
              `curl -sS --fail -m 10 -k --data-binary @${data} ${scheme}://${ip}/sha256`,
            );
            assertEquals(h.stdout, dataSha + "\n", `${scheme}: a 100 KB upload`);
          }
        });

        await withExample("kv.ts", dev, wrap, async () => {
          const script =
            "SET a 1\\nSET b two words\\nGET a\\nGET b\\nGET c\\nDEL a\\nGET a\\nDEL a\\nBOGUS x\\n";
          const r = await sh(lab, "kernel", `printf '${script}' | nc -N -w 10 ${ip} 6380`);
          assertEquals(
            r.stdout,
            "OK\nOK\nVALUE 1\nVALUE two words\nNIL\n1\nNIL\n0\nERR unknown command 'BOGUS'\n",
          );
          // 2,000 commands in one write, answered in order.
          const many = Array.from({ length: 1000 }, (_, i) => `SET k${i} v${i}\nGET k${i}`).join("\n") + "\n";
          const f = join(dir, "many.txt");
          writeFileSync(f, many);
          const m = await sh(lab, "kernel", `nc -N -w 10 ${ip} 6380 < ${f}`);
          const want = Array.from({ length: 1000 }, (_, i) => `OK\nVALUE v${i}`).join("\n") + "\n";
          assertEquals(m.stdout, want);
        });

        const served = join(dir, "www");
        execFileSync("mkdir", ["-p", served]);
        writeFileSync(join(served, "page.txt"), "a page from the kernel's TCP\n");
        const py = new Child("/usr/bin/python3", [
          "-m",
          "http.server",
          "8000",
          "--bind",
          lab.kernel.ip,
          "--directory",
          served,
        ], {
          program: "/usr/bin/python3",
          wrap: lab.wrap("kernel"),
          timeoutMs: 60_000,
        });
        try {
          await sh(
            lab,
            "kernel",
            `for i in $(seq 100); do curl -s -o /dev/null http://${lab.kernel.ip}:8000/ && exit 0; sleep 0.05; done; exit 1`,
          );
          const prefix = uniquePrefix("example-fetch");
          try {
            const r = await runChild(
              example("fetch_client.ts"),
              [...dev, "--url", `http://${lab.kernel.ip}:8000/page.txt`, "--prefix", prefix],
              { wrap, timeoutMs: 30_000 },
            );
            assertEquals(r.code, 0, explain(r));
            assertEquals(r.stdout, "STATUS 200\na page from the kernel's TCP\n");
          } finally {
            removeEalFiles(prefix);
          }
        } finally {
          py.process.kill("SIGKILL");
          await py.done();
        }
      } finally {
        lab.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 150_000 },
  );

  test(
    "coexistence: luna-ts serves port 80 on the address the kernel keeps serving its own port on",
    async () => {
      requireLabTools(["ip", "ethtool", "curl", "python3"]);
      const lab = new KernelLab("ex", 0);
      const dir = tempDir("examples-coexist");
      try {
        writeFileSync(join(dir, "kernel.txt"), "the kernel's own web server\n");
        const py = lab.spawn(lab.a, "/usr/bin/python3", ["-m", "http.server", "8001", "--directory", dir]);
        try {
          await within(
            lab.run(lab.b, "sh", [
              "-c",
              `for i in $(seq 100); do curl -s -o /dev/null http://${lab.lunaIp}:8001/ && exit 0; sleep 0.05; done; exit 1`,
            ]),
            15_000,
            "the kernel's server",
          );
          await withExample("coexist.ts", ["--device", `af_packet:${lab.nic}`], [
            "ip",
            "netns",
            "exec",
            lab.a,
          ], async () => {
            const luna = await lab.run(lab.b, "curl", ["-sS", "--fail", "-m", "10", `http://${lab.lunaIp}/`]);
            assertEquals(luna.stdout, `luna-ts on ${lab.lunaIp}/24 port 80\n`, luna.stderr);
            const kernel = await lab.run(lab.b, "curl", [
              "-sS",
              "--fail",
              "-m",
              "10",
              `http://${lab.lunaIp}:8001/kernel.txt`,
            ]);
            assertEquals(kernel.stdout, "the kernel's own web server\n", kernel.stderr);
          });
        } finally {
          py.kill("SIGKILL");
        }
      } finally {
        lab.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 90_000 },
  );

  test(
    "per-core workers: two workers echo for a luna-ts peer with two workers over memif, every byte verified",
    async () => {
      const dir = tempDir("examples-workers");
      const socket = join(dir, "memif.sock");
      const cp = uniquePrefix("example-workers-peer");
      const server = new Running("workers.ts", [
        "--device",
        `memif:${socket},server`,
        "--address",
        "198.18.0.2/24",
        "--workers",
        "2",
      ], []);
      try {
        await server.ready();
        const r = await runChild("workers_side.ts", ["client", cp, socket, "2", "40", "20000", "-1"], {
          timeoutMs: 60_000,
        });
        assertEquals(r.code, 0, explain(r));
        const reports = (r.result as { reports: { verified: number; failed: number }[] }).reports;
        assertEquals(reports.reduce((n, x) => n + x.verified, 0), 80, JSON.stringify(reports));
        assertEquals(reports.reduce((n, x) => n + x.failed, 0), 0);
        await server.child.waitFor(/^ACCEPTED \[[1-9]\d*,[1-9]\d*\]/, 10_000);
        await server.stop();
      } finally {
        server.kill();
        removeEalFiles(cp);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 90_000 },
  );
});
