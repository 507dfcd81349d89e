// createStack with a configuration given as JSON, in a process of its own
// (a DPDK device starts the EAL): prints `RESULT {...}` with the error it
// threw (name, field, message), or with the port's MTU when it started.
// Usage: mtu_config.ts CONFIG_JSON
import { createStack } from "../../src/mod.ts";

const config = JSON.parse(process.argv[2]);
try {
  const stack = await createStack(config);
  console.log("RESULT " + JSON.stringify({ mtu: stack.device.mtu }));
  await stack.close(0);
} catch (e) {
  const err = e as Error & { field?: string };
  console.log("RESULT " + JSON.stringify({ name: err.name, field: err.field, message: err.message }));
}
process.exit(0);
