/**
 * Sharing an interface, and its address, with the kernel: luna-ts serves
 * HTTP on port 80 (serve()) while every other kind of traffic that reaches
 * the interface (ARP, ICMP, UDP, TCP to other ports: ssh, a kernel web
 * server) goes to the kernel through an exception path, and the kernel's own
 * packets leave through the same port. The stack takes the interface's
 * address, routes and neighbours from the kernel (no --address).
 *
 * Run (as root, on an interface with an address, e.g. 198.18.0.2/24 on veth0):
 *   bun examples/coexist.ts --device af_packet:veth0
 * then from the peer: `curl http://198.18.0.2/` (luna-ts) beside
 * `ssh 198.18.0.2` or `ping 198.18.0.2` (the kernel).
 *
 * @module
 */
import { serve } from "../src/mod.ts";
import { exampleArgs, exampleStack, runUntilSignal } from "./_example.ts";

const a = exampleArgs("coexist.ts --device af_packet:IFACE [--mode batch|inline] [--port 80]");
if (a.address !== undefined) {
  console.error("coexist.ts takes its address from the kernel: no --address");
  process.exit(2);
}
const stack = await exampleStack(a);
const port = Number(a.port ?? 80);
serve(stack, {
  port,
  fetch: () => new Response(`luna-ts on ${stack.ip.iface.toString().split(" ")[0]} port ${port}\n`),
});
console.log(
  `READY coexisting on ${stack.ip.iface.toString()}: luna-ts serves port ${port}, the kernel the rest`,
);
await runUntilSignal(stack);
