// Helpers tests share: hex vectors, seeded random data whose seed a failing
// test prints (rerun with LUNA_SEED=N), and waiting for a condition.

export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function seedFromEnv(): number {
  const g = globalThis as any;
  const text = g.Deno?.env.get("LUNA_SEED") ?? g.process?.env?.LUNA_SEED;
  return text !== undefined ? Number(text) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
}

// mulberry32: small, seeded, good enough to pick test data.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** Resolves once `cond` holds, checked every `stepMs` on the runtime's timers; rejects after `ms`. */
export function until(cond: () => boolean, what: string, ms = 10_000, stepMs = 2): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, stepMs);
    };
    tick();
  });
}
