/**
 * The `.rpc` compiler: libevent's `event_rpcgen.py` language read into
 * {@linkcode RpcStruct} schemas ({@linkcode compileRpc}), or into a
 * TypeScript module that declares them with their types
 * ({@linkcode rpcToTypeScript}; `scripts/rpcgen.ts` is its command).
 *
 * The language: `struct NAME { ENTRY; ... }`, each entry
 * `[optional] [array] TYPE NAME[[LENGTH]] = TAG;` with TYPE `int`, `int64`,
 * `string`, `bytes` or `struct[NAME]`, a LENGTH only for bytes (a number or
 * a `#define`d name), TAG decimal or `0x` hex; `/* *\/` and `//` comments;
 * `#include`, `#if`/`#ifdef`/`#endif` and `#define` lines between structures.
 *
 * @module
 */
import { checkObject, checkString } from "../check.ts";
import { RpcError } from "./rpc_error.ts";
import { RpcField, type RpcFieldKind, type RpcFieldMode, type RpcFields, RpcStruct } from "./schema.ts";

/** A field as read from the source. */
interface FieldDecl {
  readonly line: number;
  readonly name: string;
  readonly kind: RpcFieldKind;
  readonly mode: RpcFieldMode;
  readonly tag: number;
  /** The tag as written (decimal or 0x hex). */
  readonly tagText: string;
  /** The fixed length of `bytes name[N]`, else -1. */
  readonly length: number;
  /** The structure a `struct[NAME]` field refers to, else "". */
  readonly ref: string;
}

/** A structure as read from the source. */
interface StructDecl {
  readonly line: number;
  readonly name: string;
  readonly fields: FieldDecl[];
}

interface Token {
  readonly text: string;
  readonly line: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER = /^(0[xX][0-9a-fA-F]+|[0-9]+)$/;
const U32_MAX = 0xffffffff;

function syntax(line: number, message: string): RpcError {
  return new RpcError("ERR_RPCGEN_SYNTAX", `line ${line}: ${message}`);
}

/** Blank out comments (keeping line breaks, so lines still count) and read the `#` lines. */
function preprocess(source: string, defines: Map<string, number>): string {
  let out = "";
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    if (c === "/" && source[i + 1] === "*") {
      const close = source.indexOf("*/", i + 2);
      if (close < 0) throw syntax(lineAt(source, i), "a /* comment is not closed");
      out += source.slice(i, close + 2).replace(/[^\n]/g, " ");
      i = close + 2;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < n && source[i] !== "\n") {
        out += " ";
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  const lines = out.split("\n");
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k].trim();
    if (!line.startsWith("#")) continue;
    const define = /^#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(\S+)\s*$/.exec(line);
    if (define !== null) {
      if (NUMBER.test(define[2])) defines.set(define[1], Number(define[2]));
    } else if (!/^#\s*(include\s*["<].*[">]|if(n?def)?\b.*|else\b.*|elif\b.*|endif\b.*|define\b.*)$/.test(line)) {
      throw syntax(k + 1, `a directive other than #include, #if, #ifdef, #ifndef, #else, #endif or #define: ${line}`);
    }
    lines[k] = "";
  }
  return lines.join("\n");
}

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /([A-Za-z0-9_]+)|([{}\[\];=])|(\S)|(\n)/g;
  let line = 1;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[4] !== undefined) line++;
    else if (m[3] !== undefined) throw syntax(line, `unexpected character ${JSON.stringify(m[3])}`);
    else tokens.push({ text: m[0], line });
  }
  return tokens;
}

class Parser {
  readonly #tokens: Token[];
  readonly #defines: Map<string, number>;
  #at = 0;

  constructor(tokens: Token[], defines: Map<string, number>) {
    this.#tokens = tokens;
    this.#defines = defines;
  }

  #peek(): Token | null {
    return this.#tokens[this.#at] ?? null;
  }

  #next(what: string): Token {
    const t = this.#tokens[this.#at++];
    if (t === undefined) {
      const last = this.#tokens[this.#tokens.length - 1];
      throw syntax(last?.line ?? 1, `the file ends where ${what} was expected`);
    }
    return t;
  }

  #expect(text: string): Token {
    const t = this.#next(`"${text}"`);
    if (t.text !== text) throw syntax(t.line, `expected "${text}", found "${t.text}"`);
    return t;
  }

  #ident(what: string): Token {
    const t = this.#next(what);
    if (!IDENT.test(t.text)) throw syntax(t.line, `expected ${what}, found "${t.text}"`);
    return t;
  }

  structs(): StructDecl[] {
    const out: StructDecl[] = [];
    while (this.#peek() !== null) out.push(this.#struct());
    return out;
  }

  #struct(): StructDecl {
    const kw = this.#next("struct");
    if (kw.text !== "struct") throw syntax(kw.line, `expected a struct definition, found "${kw.text}"`);
    const name = this.#ident("a structure name").text;
    this.#expect("{");
    const fields: FieldDecl[] = [];
    const names = new Map<string, number>();
    const tags = new Map<number, string>();
    while (this.#peek()?.text !== "}") {
      const f = this.#field();
      if (names.has(f.name)) throw syntax(f.line, `struct ${name} has two fields named ${f.name}`);
      const other = tags.get(f.tag);
      if (other !== undefined) {
        throw syntax(f.line, `entry "${f.name}" duplicates tag number ${f.tag} from "${other}"`);
      }
      names.set(f.name, f.line);
      tags.set(f.tag, f.name);
      fields.push(f);
    }
    this.#expect("}");
    if (this.#peek()?.text === ";") this.#at++;
    return { line: kw.line, name, fields };
  }

  #field(): FieldDecl {
    let optional = false;
    let array = false;
    let t = this.#next("a field");
    const line = t.line;
    for (;;) {
      if (t.text === "optional" && !optional) optional = true;
      else if (t.text === "array" && !array) array = true;
      else break;
      t = this.#next("a field type");
    }
    let kind: RpcFieldKind;
    let ref = "";
    switch (t.text) {
      case "int":
      case "int64":
      case "string":
      case "bytes":
        kind = t.text;
        break;
      case "struct":
        this.#expect("[");
        ref = this.#ident("a structure name").text;
        this.#expect("]");
        kind = "struct";
        break;
      default:
        throw syntax(t.line, `bad type: "${t.text}" (int, int64, string, bytes or struct[NAME])`);
    }
    const name = this.#ident("a field name").text;
    let length = -1;
    if (this.#peek()?.text === "[") {
      this.#at++;
      const len = this.#next("a length");
      length = this.#number(len, "a length", this.#defines);
      this.#expect("]");
      if (kind !== "bytes") throw syntax(len.line, `only bytes fields have a length, not ${kind} "${name}"`);
      if (length < 1) throw syntax(len.line, `entry "${name}" needs a length of at least 1`);
      kind = "fixed_bytes";
    }
    const eq = this.#next(`"=" after ${name}`);
    if (eq.text !== "=") throw syntax(eq.line, `expected "=" after name "${name}", found "${eq.text}"`);
    const tagToken = this.#next("a tag number");
    const tag = this.#number(tagToken, "a tag number", null);
    if (tag > U32_MAX) throw syntax(tagToken.line, `tag ${tagToken.text} does not fit in 32 bits`);
    const end = this.#next(`";" after entry "${name}"`);
    if (end.text !== ";") throw syntax(end.line, `expected ";" after entry "${name}", found "${end.text}"`);
    if (optional && array) throw syntax(line, `entry "${name}" has illegal combination of optional and array`);
    if (array && (kind === "bytes" || kind === "fixed_bytes")) {
      throw syntax(line, `entry "${name}" cannot be created as an array (bytes cannot)`);
    }
    const mode = optional ? "optional" : array ? "array" : "required";
    return { line, name, kind, mode, tag, tagText: tagToken.text.toLowerCase(), length, ref };
  }

  #number(t: Token, what: string, defines: Map<string, number> | null): number {
    if (NUMBER.test(t.text)) return Number(t.text);
    const defined = defines?.get(t.text);
    if (defined !== undefined) return defined;
    throw syntax(t.line, `expected ${what}, found "${t.text}"`);
  }
}

/** Read and check a `.rpc` source: its structures, with every reference resolved. */
function read(source: string): StructDecl[] {
  checkString(source, "source");
  const defines = new Map<string, number>();
  const structs = new Parser(tokenize(preprocess(source, defines)), defines).structs();
  const names = new Map<string, StructDecl>();
  for (const s of structs) {
    if (names.has(s.name)) throw syntax(s.line, `struct ${s.name} is defined twice`);
    names.set(s.name, s);
  }
  for (const s of structs) {
    for (const f of s.fields) {
      if (f.kind === "struct" && !names.has(f.ref)) {
        throw syntax(f.line, `entry "${f.name}" refers to struct ${f.ref}, which is not defined`);
      }
    }
  }
  return structs;
}

/**
 * Compile a `.rpc` source (event_rpcgen.py's language) into its
 * structures, by name, in the order defined. Nested structures may be
 * defined after use, or refer to their own structure.
 *
 * @throws {RpcError} `ERR_RPCGEN_SYNTAX` naming the line for a source it cannot read: a bad type or name, a missing `=` or `;`, duplicate tags or names, an unknown structure, optional with array, an array of bytes
 * @throws {TypeError} if source is not a string
 *
 * @example
 * ```ts
 * import { compileRpc } from "@levent/levent/rpc";
 * const structs = compileRpc(`
 *   struct kill {
 *     string weapon = 0x10121;
 *     string action = 2;
 *     array int how_often = 3;
 *   }
 * `);
 * const kill = structs.get("kill")!;
 * console.log(kill.decode(kill.encode({ weapon: "dagger", action: "wave", how_often: [3] })));
 * ```
 */
export function compileRpc(source: string): Map<string, RpcStruct> {
  const decls = read(source);
  const structs = new Map<string, RpcStruct>();
  for (const d of decls) {
    const fields: Record<string, RpcField> = {};
    for (const f of d.fields) fields[f.name] = makeField(f, structs);
    structs.set(d.name, new RpcStruct(d.name, fields as RpcFields));
  }
  return structs;
}

function makeField(f: FieldDecl, structs: Map<string, RpcStruct>): RpcField {
  let field: RpcField;
  switch (f.kind) {
    case "int":
      field = RpcField.int(f.tag);
      break;
    case "int64":
      field = RpcField.int64(f.tag);
      break;
    case "string":
      field = RpcField.string(f.tag);
      break;
    case "bytes":
      field = RpcField.bytes(f.tag);
      break;
    case "fixed_bytes":
      field = RpcField.fixedBytes(f.tag, f.length);
      break;
    case "struct": {
      const ref = f.ref;
      field = RpcField.struct(f.tag, () => structs.get(ref)!);
      break;
    }
  }
  return f.mode === "optional" ? field.optional() : f.mode === "array" ? field.array() : field;
}

/** Options of {@linkcode rpcToTypeScript}. */
export interface RpcToTypeScriptOptions {
  /** The module the generated code imports RpcField and RpcStruct from. Default `"@levent/levent/rpc"`. */
  readonly importFrom?: string;
  /** The source's file name, named in the generated header comment. */
  readonly sourceName?: string;
}

const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await").split(" "),
);

/** The constant a structure is declared as: its name, or with `_` after it when that is a reserved word. */
function constName(name: string): string {
  return RESERVED.has(name) ? name + "_" : name;
}

/** `msg` -> `Msg`, `run_entry` -> `RunEntry`. */
function pascal(name: string): string {
  return name.split("_").filter((p) => p !== "").map((p) => p[0].toUpperCase() + p.slice(1)).join("") || "Struct";
}

const FACTORY: Readonly<Record<RpcFieldKind, string>> = {
  int: "int",
  int64: "int64",
  string: "string",
  bytes: "bytes",
  fixed_bytes: "fixedBytes",
  struct: "struct",
};

/**
 * Compile a `.rpc` source into the source of a TypeScript module that
 * declares its structures: for `struct msg`, a type `MsgFields`, the value
 * type `Msg` (decoded) and `MsgInput` (to encode), and `msg`, the
 * {@linkcode RpcStruct}. Every declaration has an explicit type, so the
 * module suits `--isolatedDeclarations` and JSR.
 *
 * @throws {RpcError} `ERR_RPCGEN_SYNTAX` as {@linkcode compileRpc}
 * @throws {TypeError} if source is not a string or options are malformed
 *
 * @example
 * ```ts
 * import { rpcToTypeScript } from "@levent/levent/rpc";
 * const ts = rpcToTypeScript("struct run { string how = 1; }", { sourceName: "run.rpc" });
 * console.log(ts.includes('export const run: RpcStruct<RunFields> = new RpcStruct("run", {')); // true
 * ```
 */
export function rpcToTypeScript(source: string, options: RpcToTypeScriptOptions = {}): string {
  checkObject(options, "options");
  const from = options.importFrom === undefined
    ? "@levent/levent/rpc"
    : checkString(options.importFrom, "options.importFrom");
  const sourceName = options.sourceName === undefined ? "" : checkString(options.sourceName, "options.sourceName");
  const decls = read(source);
  const out: string[] = [];
  out.push(`// Generated by levent's rpcgen${sourceName === "" ? "" : ` from ${sourceName}`}. Do not edit.`);
  out.push(`import { RpcField, type RpcInput, RpcStruct, type RpcValue } from ${JSON.stringify(from)};`);
  for (const d of decls) {
    const type = pascal(d.name);
    out.push("");
    out.push(`/** The fields of \`struct ${d.name}\`. */`);
    out.push(`export type ${type}Fields = {`);
    for (const f of d.fields) {
      const s = f.kind === "struct" ? `, RpcStruct<${pascal(f.ref)}Fields>` : "";
      out.push(`  readonly ${f.name}: RpcField<"${f.kind}", "${f.mode}"${s}>;`);
    }
    out.push("};");
    out.push(`/** \`struct ${d.name}\` as decoded. */`);
    out.push(`export type ${type} = RpcValue<${type}Fields>;`);
    out.push(`/** \`struct ${d.name}\` as given to encode. */`);
    out.push(`export type ${type}Input = RpcInput<${type}Fields>;`);
    out.push(`/** \`struct ${d.name}\`: its schema, encode and decode. */`);
    out.push(
      `export const ${constName(d.name)}: RpcStruct<${type}Fields> = new RpcStruct(${JSON.stringify(d.name)}, {`,
    );
    for (const f of d.fields) {
      const tag = f.tagText;
      const args = f.kind === "fixed_bytes"
        ? `${tag}, ${f.length}`
        : f.kind === "struct"
        ? `${tag}, () => ${constName(f.ref)}`
        : tag;
      const mode = f.mode === "optional" ? ".optional()" : f.mode === "array" ? ".array()" : "";
      out.push(`  ${f.name}: RpcField.${FACTORY[f.kind]}(${args})${mode},`);
    }
    out.push("});");
  }
  return out.join("\n") + "\n";
}
