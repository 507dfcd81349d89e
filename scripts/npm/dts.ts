/**
 * Declarations (`.d.ts`) from luna-ts's TypeScript sources, for the npm
 * package. It relies on what `deno publish` checks ("no slow types"): every
 * exported name carries an explicit type, so a declaration is the source with
 * the bodies, initializers and private members taken out, which is what this
 * does, token by token (strings, template literals, comments and regular
 * expressions are skipped whole). Not a general TypeScript emitter: it knows
 * the constructs luna-ts uses, and throws on one it does not, naming it.
 *
 * @module
 */

/** The declaration text of the module `source` (its imports of `.ts` files rewritten to `.js`). */
export function declarations(source: string, file = "<source>"): string {
  return new Emitter(source, file).run();
}

const wordChar = /[A-Za-z0-9_$#]/;
const regexAfterWord = new Set([
  "return",
  "typeof",
  "case",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "yield",
  "await",
  "else",
  "do",
]);

class Emitter {
  readonly #s: string;
  readonly #file: string;

  constructor(source: string, file: string) {
    this.#s = source;
    this.#file = file;
  }

  /** The initializer of a top-level `const NAME = literal;` of this module. */
  readonly #lookup = (name: string): string | undefined => {
    const m = new RegExp(`^(?:export )?const ${name.replace(/[$.]/g, "\\$&")} = ([^;\n]+);`, "m").exec(
      this.#s,
    );
    return m?.[1]?.trim();
  };

  run(): string {
    const s = this.#s;
    const out: string[] = [];
    let i = 0;
    while (true) {
      const start = i;
      i = this.#skipSpace(i);
      const lead = s.slice(start, i);
      if (i >= s.length) break;
      const { text, end } = this.#statement(i);
      i = end;
      if (text !== undefined) out.push(keepDocs(lead) + text);
    }
    return out.join("\n").replace(/\n{3,}/g, "\n\n").trim() + "\n";
  }

  #fail(at: number, what: string): never {
    const line = this.#s.slice(0, at).split("\n").length;
    throw new Error(`${this.#file}:${line}: cannot declare ${what}: ${this.#s.slice(at, at + 60)}`);
  }

  // ------------------------------------------------------------- scanning

  /** Past whitespace and comments. */
  #skipSpace(i: number): number {
    const s = this.#s;
    while (i < s.length) {
      const c = s[i];
      if (c === " " || c === "\n" || c === "\t" || c === "\r") i++;
      else if (c === "/" && s[i + 1] === "/") i = this.#lineEnd(i);
      else if (c === "/" && s[i + 1] === "*") i = s.indexOf("*/", i + 2) + 2;
      else break;
    }
    return i;
  }

  #lineEnd(i: number): number {
    const n = this.#s.indexOf("\n", i);
    return n < 0 ? this.#s.length : n;
  }

  /** Index past the token starting at `i` when it is a string, template, comment or regex; else -1. */
  #skipOpaque(i: number): number {
    const s = this.#s;
    const c = s[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) j += s[j] === "\\" ? 2 : 1;
      return j + 1;
    }
    if (c === "`") return this.#skipTemplate(i);
    if (c === "/" && s[i + 1] === "/") return this.#lineEnd(i);
    if (c === "/" && s[i + 1] === "*") return s.indexOf("*/", i + 2) + 2;
    if (c === "/" && this.#regexMayStart(i)) {
      let j = i + 1;
      let inClass = false;
      while (j < s.length) {
        const d = s[j];
        if (d === "\\") j += 2;
        else if (d === "[") inClass = true, j++;
        else if (d === "]") inClass = false, j++;
        else if (d === "/" && !inClass) break;
        else if (d === "\n") return -1; // not a regex after all
        else j++;
      }
      j++;
      while (j < s.length && /[a-z]/.test(s[j])) j++;
      return j;
    }
    return -1;
  }

  #regexMayStart(i: number): boolean {
    const s = this.#s;
    let j = i - 1;
    while (j >= 0 && /\s/.test(s[j])) j--;
    if (j < 0) return true;
    const p = s[j];
    if ("(,=:[!&|?{};+-*%<>~^".includes(p)) return true;
    if (wordChar.test(p)) {
      let k = j;
      while (k >= 0 && wordChar.test(s[k])) k--;
      return regexAfterWord.has(s.slice(k + 1, j + 1));
    }
    return false;
  }

  #skipTemplate(i: number): number {
    const s = this.#s;
    let j = i + 1;
    while (j < s.length && s[j] !== "`") {
      if (s[j] === "\\") j += 2;
      else if (s[j] === "$" && s[j + 1] === "{") j = this.#match(j + 1);
      else j++;
    }
    return j + 1;
  }

  /** Index past the bracket matching the one at `i` (`(`, `[` or `{`). */
  #match(i: number): number {
    const s = this.#s;
    const open = s[i];
    const close = open === "(" ? ")" : open === "[" ? "]" : "}";
    let j = i + 1;
    while (j < s.length) {
      const skip = this.#skipOpaque(j);
      if (skip > 0) {
        j = skip;
        continue;
      }
      const c = s[j];
      if (c === close) return j + 1;
      if (c === "(" || c === "[" || c === "{") j = this.#match(j);
      else j++;
    }
    this.#fail(i, `an unclosed '${open}'`);
  }

  /** Index past the `<...>` of type parameters or arguments starting at `i`. */
  #matchAngle(i: number): number {
    const s = this.#s;
    let depth = 0;
    let j = i;
    while (j < s.length) {
      const skip = this.#skipOpaque(j);
      if (skip > 0) {
        j = skip;
        continue;
      }
      const c = s[j];
      if (c === "<") depth++;
      else if (c === ">" && s[j - 1] !== "=") {
        depth--;
        if (depth === 0) return j + 1;
      } else if (c === "(" || c === "[" || c === "{") {
        j = this.#match(j);
        continue;
      }
      j++;
    }
    this.#fail(i, "an unclosed '<'");
  }

  /** Index of the first `stop` character at depth 0 from `i` (brackets and angles matched). */
  #scanTo(i: number, stop: (c: string, j: number) => boolean, angles = false): number {
    const s = this.#s;
    let j = i;
    let angle = 0;
    while (j < s.length) {
      const skip = this.#skipOpaque(j);
      if (skip > 0) {
        j = skip;
        continue;
      }
      const c = s[j];
      if (angle === 0 && stop(c, j)) return j;
      if (c === "(" || c === "[" || c === "{") {
        j = this.#match(j);
        continue;
      }
      if (angles && c === "<") angle++;
      else if (angles && c === ">" && s[j - 1] !== "=" && angle > 0) angle--;
      j++;
    }
    return j;
  }

  #word(i: number): string {
    const s = this.#s;
    let j = i;
    while (j < s.length && wordChar.test(s[j])) j++;
    return s.slice(i, j);
  }

  /** Past the end of a statement that ends with `;` or with a block (and its else/catch/finally). */
  #statementEnd(i: number): number {
    const s = this.#s;
    let j = i;
    while (true) {
      j = this.#scanTo(j, (c) => c === ";" || c === "{");
      if (j >= s.length) return j;
      if (s[j] === ";") return j + 1;
      j = this.#match(j);
      const k = this.#skipSpace(j);
      const w = this.#word(k);
      if (w === "else" || w === "catch" || w === "finally") {
        j = k + w.length;
        continue;
      }
      // `const x = { ... };` and `x = () => { ... };`: the statement goes on to its `;`.
      if (s[k] === ";" || s[k] === ")" || s[k] === "," || s[k] === "." || s[k] === "(" || s[k] === "[") {
        continue;
      }
      if (/^(as|satisfies|from)$/.test(w)) continue;
      return j;
    }
  }

  /** Where a type that starts at `i` ends: at a body `{`, `;`, `=`, `,`, `)` or `=>` at depth 0. */
  #typeEnd(i: number, stops: string): number {
    const s = this.#s;
    let j = i;
    let angle = 0;
    let prev = "";
    while (j < s.length) {
      const skip = this.#skipOpaque(j);
      if (skip > 0) {
        j = skip;
        prev = "x";
        continue;
      }
      const c = s[j];
      if (/\s/.test(c)) {
        j++;
        continue;
      }
      if (c === "=" && s[j + 1] === ">") {
        j += 2;
        prev = "=>";
        continue;
      }
      if (angle === 0 && stops.includes(c)) {
        // A `{` after an operator opens a type literal; after a complete type, the body.
        if (
          c !== "{" ||
          !(prev === "" || prev === "=>" || "|&:,<(".includes(prev) ||
            /^(keyof|typeof|readonly|is|extends)$/.test(prev))
        ) {
          return j;
        }
      }
      if (c === "(" || c === "[" || c === "{") {
        j = this.#match(j);
        prev = c === "{" ? "}" : ")";
        continue;
      }
      if (c === "<") angle++, prev = "<";
      else if (c === ">") angle--, prev = ">";
      else if (wordChar.test(c)) {
        const w = this.#word(j);
        j += w.length;
        prev = w;
        continue;
      } else prev = c;
      j++;
    }
    return j;
  }

  // ----------------------------------------------------------- statements

  #statement(i: number): { text: string | undefined; end: number } {
    const s = this.#s;
    let j = i;
    let exported = "";
    let w = this.#word(j);
    if (w === "export") {
      j = this.#skipSpace(j + 6);
      w = this.#word(j);
      if (w === "default") {
        j = this.#skipSpace(j + 7);
        exported = "export default ";
        w = this.#word(j);
      } else exported = "export ";
      if (w === "" || w === "type" && /^type\s*\{/.test(s.slice(j))) {
        // export { ... } [from "..."]; export * from "..."; export type { ... }
        const end = this.#statementEnd(i);
        return { text: rewriteImports(s.slice(i, end)), end };
      }
    }
    if (w === "import") {
      const end = this.#statementEnd(i);
      const text = s.slice(i, end);
      if (/with\s*\{\s*type:\s*"file"/.test(text)) return { text: undefined, end };
      if (/^import\s*["']/.test(text)) return { text: undefined, end }; // side effects only
      return { text: rewriteImports(text), end };
    }
    if (w === "type" || w === "interface") {
      const end = w === "type" ? this.#statementEnd(j) : this.#match(this.#scanTo(j, (c) => c === "{", true));
      return { text: exported + s.slice(j, end), end };
    }
    if (w === "declare") {
      const end = this.#statementEnd(j);
      return { text: exported + s.slice(j, end), end };
    }
    let mods = "";
    while (
      w === "async" || w === "abstract" || w === "const" && this.#word(this.#skipSpace(j + 5)) === "enum"
    ) {
      if (w !== "async") mods += w + " ";
      j = this.#skipSpace(j + w.length);
      w = this.#word(j);
    }
    if (w === "function") return this.#function(i, j, exported, mods);
    if (w === "class") return this.#class(j, exported, mods);
    if (w === "enum") {
      const end = this.#match(this.#scanTo(j, (c) => c === "{"));
      return { text: `${exported}declare ${mods}${s.slice(j, end)}`, end };
    }
    if (w === "const" || w === "let" || w === "var") return this.#variable(i, j, exported, w);
    // Anything else (a call, an `if` at the top level) has no declaration.
    const end = this.#statementEnd(i);
    if (exported !== "") this.#fail(i, "an export");
    return { text: undefined, end };
  }

  #function(i: number, j: number, exported: string, mods: string): { text: string; end: number } {
    const s = this.#s;
    let k = this.#skipSpace(j + "function".length);
    if (s[k] === "*") this.#fail(i, "a generator");
    const name = this.#word(k);
    k = this.#skipSpace(k + name.length);
    const sig = this.#signature(k);
    const end = sig.body ? this.#match(sig.end) : sig.end + 1;
    const declare = exported === "export default " ? "" : "declare ";
    return { text: `${exported}${declare}${mods}function ${name}${sig.text};`, end };
  }

  /** `<T>(params): R` at `k`: its declaration text, and where the body `{` (or the `;`) is. */
  #signature(k: number): { text: string; end: number; body: boolean } {
    const s = this.#s;
    let generics = "";
    if (s[k] === "<") {
      const g = this.#matchAngle(k);
      generics = s.slice(k, g);
      k = this.#skipSpace(g);
    }
    if (s[k] !== "(") this.#fail(k, "a signature without parameters");
    const pEnd = this.#match(k);
    const params = this.#params(k + 1, pEnd - 1);
    k = this.#skipSpace(pEnd);
    let ret = "";
    if (s[k] === ":") {
      const t = this.#typeEnd(k + 1, "{;");
      ret = ": " + s.slice(k + 1, t).trim();
      k = t;
    }
    return { text: `${generics}(${params})${ret}`, end: k, body: s[k] === "{" };
  }

  /** The parameters between `from` and `to`, with initializers turned into optional parameters. */
  #params(from: number, to: number): string {
    const out: string[] = [];
    let i = this.#skipSpace(from);
    let n = 0;
    while (i < to) {
      const end = Math.min(this.#scanTo(i, (c) => c === ",", true), to);
      const p = this.#param(i, end, n++);
      out.push(p);
      i = this.#skipSpace(end + 1);
    }
    return out.join(", ").replace(/\s+/g, (m) => m.includes("\n") ? " " : m);
  }

  #param(i: number, end: number, n: number): string {
    const s = this.#s;
    const text = s.slice(i, end).trim();
    if (text === "") return "";
    // name[?]: type = init
    const eq = this.#scanTo(
      i,
      (c, j) => c === "=" && s[j + 1] !== ">" && s[j + 1] !== "=" && s[j - 1] !== "!",
      true,
    );
    const hasInit = eq < end;
    const head = s.slice(i, hasInit ? eq : end).trim();
    const colon = this.#scanTo(i, (c) => c === ":", true);
    let name = s.slice(i, Math.min(colon, hasInit ? eq : end)).trim();
    let type = colon < (hasInit ? eq : end) ? s.slice(colon + 1, hasInit ? eq : end).trim() : undefined;
    if (!hasInit && !name.startsWith("{") && !name.startsWith("[")) return head;
    if (name.startsWith("{") || name.startsWith("[")) name = `arg${n}`;
    if (type === undefined) {
      type = literalType(s.slice(eq + 1, end).trim(), `parameter ${name}`, this.#file, this.#lookup);
    }
    const optional = hasInit || name.endsWith("?");
    return `${name.replace(/\?$/, "")}${optional ? "?" : ""}: ${type}`;
  }

  #variable(i: number, j: number, exported: string, kind: string): { text: string | undefined; end: number } {
    const s = this.#s;
    const end = this.#statementEnd(j);
    const stop = s[end - 1] === ";" ? end - 1 : end;
    const out: string[] = [];
    let k = this.#skipSpace(j + kind.length);
    while (k < stop) {
      const next = Math.min(this.#scanTo(k, (c) => c === ",", true), stop);
      const name = this.#word(k);
      if (name === "" && exported !== "") this.#fail(i, "an exported destructuring declaration");
      if (name === "") return { text: undefined, end };
      let m = this.#skipSpace(k + name.length);
      let type: string | undefined;
      if (s[m] === ":") {
        const t = Math.min(this.#scanTo(m + 1, (c, j) => c === "=" && s[j + 1] !== ">", true), next);
        type = s.slice(m + 1, t).trim();
      } else if (exported !== "") {
        type = constType(s.slice(m + 1, next).trim(), name, this.#file);
      }
      if (type !== undefined) out.push(`${exported}declare const ${name}: ${type};`);
      m = next;
      k = this.#skipSpace(next + 1);
    }
    return { text: out.length > 0 ? out.join("\n") : undefined, end };
  }

  #class(j: number, exported: string, mods: string): { text: string; end: number } {
    const s = this.#s;
    const open = this.#scanTo(j, (c) => c === "{", true);
    const head = s.slice(j, open).trim();
    const end = this.#match(open);
    const members: string[] = [];
    let hasPrivate = false;
    const seen = new Set<string>(); // a private method's overloads are one declaration
    let k = open + 1;
    while (true) {
      const start = k;
      k = this.#skipSpace(k);
      const lead = s.slice(start, k);
      if (k >= end - 1) break;
      const m = this.#member(k);
      k = m.end;
      if (m.privateName) hasPrivate = true;
      else if (m.text !== undefined && !(m.private && seen.has(m.text))) {
        seen.add(m.text);
        members.push(keepDocs(lead, "  ") + "  " + m.text);
      }
    }
    if (hasPrivate) members.unshift("  #private;");
    const declare = exported === "export default " ? "" : "declare ";
    return { text: `${exported}${declare}${mods}${head} {\n${members.join("\n")}\n}`, end };
  }

  #member(k: number): { text?: string; end: number; privateName?: boolean; private?: boolean } {
    const s = this.#s;
    if (s[k] === ";") return { end: k + 1 };
    const modifiers: string[] = [];
    let w = this.#word(k);
    const modifierWords = [
      "public",
      "private",
      "protected",
      "static",
      "readonly",
      "abstract",
      "override",
      "declare",
      "async",
      "get",
      "set",
      "accessor",
    ];
    while (modifierWords.includes(w)) {
      const next = this.#skipSpace(k + w.length);
      if ("(:=;?!<".includes(s[next])) break; // a member named like a modifier
      if (w === "static" && s[next] === "{") return { end: this.#match(next) }; // static block
      modifiers.push(w);
      k = next;
      w = this.#word(k);
    }
    if (s[k] === "*") k = this.#skipSpace(k + 1); // a generator method: declared by its return type
    let name: string;
    if (s[k] === "[") {
      const e = this.#match(k);
      name = s.slice(k, e);
      const after = this.#skipSpace(e);
      if (s[after] === ":" && /^\[\s*\w+\s*:/.test(name)) {
        // index signature
        const end = this.#scanTo(after, (c) => c === ";") + 1;
        return { text: `${modifiers.join(" ")}${modifiers.length ? " " : ""}${s.slice(k, end).trim()}`, end };
      }
      k = e;
    } else if (s[k] === '"' || s[k] === "'") {
      const e = this.#skipOpaque(k);
      name = s.slice(k, e);
      k = e;
    } else {
      name = this.#word(k);
      if (name === "") this.#fail(k, "a class member");
      k += name.length;
    }
    const isPrivateName = name.startsWith("#");
    const isPrivate = modifiers.includes("private");
    let optional = "";
    k = this.#skipSpace(k);
    if (s[k] === "?" || s[k] === "!") {
      if (s[k] === "?") optional = "?";
      k = this.#skipSpace(k + 1);
    }
    const mods = modifiers.filter((m) =>
      m !== "async" && m !== "override" && m !== "declare" && m !== "accessor"
    );
    const prefix = mods.length > 0 ? mods.join(" ") + " " : "";
    if (s[k] === "(" || s[k] === "<") {
      const sig = this.#signature(k);
      const end = sig.body ? this.#match(sig.end) : sig.end + 1;
      if (isPrivateName) return { end, privateName: true };
      const getSet = mods.includes("get") || mods.includes("set");
      if (isPrivate && name === "constructor") return { text: `${prefix}constructor();`, end, private: true };
      if (isPrivate && !getSet) return { text: `${prefix}${name}${optional};`, end, private: true };
      return { text: `${prefix}${name}${optional}${sig.text};`, end };
    }
    // A property: name[?]: type [= init];
    let type: string | undefined;
    let end: number;
    if (s[k] === ":") {
      const t = this.#scanTo(k + 1, (c, j) => c === "=" && s[j + 1] !== ">" || c === ";", true);
      type = s.slice(k + 1, t).trim();
      end = this.#scanTo(t, (c) => c === ";") + 1;
    } else {
      end = this.#scanTo(k, (c) => c === ";") + 1;
      if (!isPrivateName && !isPrivate) {
        type = literalType(s.slice(k + 1, end - 1).trim(), `property ${name}`, this.#file, this.#lookup);
      }
    }
    if (isPrivateName) return { end, privateName: true };
    if (isPrivate) return { text: `${prefix}${name}${optional};`, end };
    return { text: `${prefix}${name}${optional}: ${type};`, end };
  }
}

/** The doc comments (`/** ... *\/`) of a declaration's leading text, kept; other comments dropped. */
function keepDocs(lead: string, indent = ""): string {
  const docs = lead.match(/\/\*\*[\s\S]*?\*\//g);
  if (docs === null) return lead.includes("\n\n") ? "\n" : "";
  const last = docs[docs.length - 1];
  return (lead.includes("\n\n") ? "\n" : "") + indent +
    last.split("\n").map((l, i) => (i === 0 ? l : indent + l.trim().replace(/^\*/, " *"))).join("\n") + "\n";
}

/** Relative `.ts` module specifiers become `.js`. */
export function rewriteImports(text: string): string {
  return text.replace(/(["'])(\.{1,2}\/[^"']*?)\.ts\1/g, "$1$2.js$1");
}

/** The type of a literal initializer (a parameter's default, a property's value). */
function literalType(
  init: string,
  what: string,
  file: string,
  lookup?: (name: string) => string | undefined,
): string {
  if (/^-?[\d_.]+(e\d+)?$|^0x[\da-f_]+$|^-?Infinity$|^NaN$/i.test(init)) return "number";
  if (/^["'`]/.test(init)) return "string";
  if (init === "true" || init === "false") return "boolean";
  if (/^\d[\d_]*n$/.test(init)) return "bigint";
  // Arithmetic is a number.
  if (/^[\w$.\s()]+([-+*/%]|<<|>>>?)[\w$.\s()+\-*/%<>]+$/.test(init)) return "number";
  // A named constant: its type (exported constants are declared; the compiler checks the rest).
  if (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(init) && init !== "undefined" && init !== "null") {
    const value = lookup?.(init);
    if (value !== undefined) return literalType(value, what, file);
    return `typeof ${init}`;
  }
  const made = /^new ([A-Za-z_$][\w$.]*)(<[^()]*>)?\(/.exec(init);
  if (made !== null) return made[1] + (made[2] ?? "");
  throw new Error(`${file}: ${what} has no type and its value (${init.slice(0, 40)}) is not a literal`);
}

/** The type of an exported `const` without an annotation: literals, and `{ ... } as const` of numbers. */
function constType(init: string, name: string, file: string): string {
  const num = /^-?(0x[\da-f_]+|[\d_]+(\.\d+)?(e\d+)?)$/i;
  if (num.test(init)) return String(Number(init.replaceAll("_", "")));
  if (/^"[^"]*"$/.test(init)) return init;
  if (/^`[^`$]*`$/.test(init) || /^'[^']*'$/.test(init)) return "string";
  if (init === "true" || init === "false") return init;
  const tuple = /^\[([^\]]*)\]\s*as\s+const$/.exec(init);
  if (tuple !== null && /^(\s*"[^"]*"\s*,?)*$/.test(tuple[1])) {
    return `readonly [${tuple[1].trim().replace(/,$/, "")}]`;
  }
  const obj = /^\{([\s\S]*)\}\s*as\s+const$/.exec(init);
  if (obj !== null) return objectType(obj[1], name, file);
  return literalType(init, `exported const ${name}`, file);
}

function objectType(body: string, name: string, file: string): string {
  const fields: string[] = [];
  const clean = body.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  for (const part of clean.split(",")) {
    const p = part.trim();
    if (p === "") continue;
    const m = /^(\w+)\s*:\s*(.+)$/s.exec(p);
    if (m === null) throw new Error(`${file}: const ${name}: cannot type the field '${p.slice(0, 40)}'`);
    const v = m[2].trim();
    let t: string;
    if (/^[\d_xa-fA-F\s<>|&()+\-*]+$/.test(v)) {
      t = String(Function(`"use strict"; return (${v.replaceAll("_", "")});`)());
    } else if (/^"[^"]*"$/.test(v)) t = v;
    else throw new Error(`${file}: const ${name}.${m[1]}: cannot type the value '${v.slice(0, 40)}'`);
    fields.push(`readonly ${m[1]}: ${t};`);
  }
  return `{ ${fields.join(" ")} }`;
}
