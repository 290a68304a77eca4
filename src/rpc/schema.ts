/**
 * Message schemas: the structures libevent's `event_rpcgen.py` generates C
 * code for, declared once in TypeScript. A {@linkcode RpcStruct} lists its
 * fields ({@linkcode RpcField}: int, int64, string, bytes, fixed bytes or a
 * nested structure, each with a tag, required, `optional()` or `array()`);
 * its encode and decode functions and the TypeScript types of its values
 * ({@linkcode RpcValue}, {@linkcode RpcInput}) follow from that one
 * declaration. The bytes are those of the generated C code: fields in
 * declared order, an optional field only when set, an array as one record
 * per element under the field's tag, a nested structure as one record
 * holding its own records.
 *
 * @module
 */
import { EvBuffer } from "../buffer/evbuffer.ts";
import { checkInteger, checkNonEmptyString, checkObject, rangeError, typeError } from "../check.ts";
import { EvtagReader, EvtagWriter, int64Size, intSize, u64Parts } from "./evtag.ts";
import { RpcError } from "./rpc_error.ts";

/**
 * A field's type, as `.rpc` files name them: `"int"` (u32, a number),
 * `"int64"` (u64, a bigint), `"string"` (UTF-8 text), `"bytes"` (any
 * length), `"fixed_bytes"` (`bytes name[N]`, exactly N bytes) or
 * `"struct"` (`struct[Name]`, a nested structure).
 */
export type RpcFieldKind = "int" | "int64" | "string" | "bytes" | "fixed_bytes" | "struct";

/**
 * How often a field appears: `"required"` (exactly once), `"optional"`
 * (at most once; sent only when set) or `"array"` (any number of times,
 * one record per element, in order).
 */
export type RpcFieldMode = "required" | "optional" | "array";

/** The fields of a structure by name: what {@linkcode RpcStruct}'s constructor takes. */
export type RpcFields = { readonly [name: string]: RpcField<RpcFieldKind, RpcFieldMode, unknown> };

/**
 * The decoded value of one element of a field of kind `K` (and nested
 * structure `S`; a structure of unknown fields is a plain object).
 */
export type RpcKindValue<K extends RpcFieldKind, S> = K extends "int" ? number
  : K extends "int64" ? bigint
  : K extends "string" ? string
  : K extends "bytes" | "fixed_bytes" ? Uint8Array
  : S extends RpcStruct<infer F> ? RpcValue<F>
  : { [name: string]: unknown };

/** What encoding accepts for one element of a field of kind `K`: an int64 may be a safe integer too. */
export type RpcKindInput<K extends RpcFieldKind, S> = K extends "int" ? number
  : K extends "int64" ? bigint | number
  : K extends "string" ? string
  : K extends "bytes" | "fixed_bytes" ? Uint8Array
  : S extends RpcStruct<infer F> ? RpcInput<F>
  : { readonly [name: string]: unknown };

/** The decoded value of a field: its element's, or an array of them. */
export type RpcFieldValue<T> = T extends RpcField<infer K, infer M, infer S>
  ? M extends "array" ? RpcKindValue<K, S>[] : RpcKindValue<K, S>
  : never;

/** What encoding accepts for a field: its element's, or an array of them. */
export type RpcFieldInput<T> = T extends RpcField<infer K, infer M, infer S>
  ? M extends "array" ? readonly RpcKindInput<K, S>[] : RpcKindInput<K, S>
  : never;

/**
 * A decoded structure: required fields always there, optional ones when
 * they were sent, arrays always there (empty when none were sent).
 */
export type RpcValue<F extends RpcFields> =
  & {
    -readonly [K in keyof F as F[K] extends RpcField<RpcFieldKind, "optional", unknown> ? never : K]: RpcFieldValue<
      F[K]
    >;
  }
  & {
    -readonly [K in keyof F as F[K] extends RpcField<RpcFieldKind, "optional", unknown> ? K : never]?: RpcFieldValue<
      F[K]
    >;
  };

/** A structure to encode: required fields must be there; optional fields and arrays may be left out. */
export type RpcInput<F extends RpcFields> =
  & { [K in keyof F as F[K] extends RpcField<RpcFieldKind, "required", unknown> ? K : never]: RpcFieldInput<F[K]> }
  & { [K in keyof F as F[K] extends RpcField<RpcFieldKind, "required", unknown> ? never : K]?: RpcFieldInput<F[K]> };

const U32_MAX = 0xffffffff;

/** A nested structure, or a function returning it (for a structure declared later, or itself). */
export type RpcStructRef<S> = S | (() => S);

/**
 * One field of a structure: its kind, tag and mode, and for `fixed_bytes`
 * its length, for `struct` the nested structure. Made with the static
 * functions ({@linkcode RpcField.int}, {@linkcode RpcField.string}...) and
 * turned optional or into an array with {@linkcode RpcField.optional} and
 * {@linkcode RpcField.array}, as a `.rpc` file's `optional` and `array`.
 *
 * @example
 * ```ts
 * import { RpcField, RpcStruct } from "@levent/levent/rpc";
 * const Run = new RpcStruct("run", {
 *   how: RpcField.string(1),
 *   some_bytes: RpcField.bytes(2).optional(),
 *   fixed_bytes: RpcField.fixedBytes(3, 24),
 *   notes: RpcField.string(4).array(),
 * });
 * console.log(Run.fields.notes.mode); // array
 * ```
 */
export class RpcField<K extends RpcFieldKind = RpcFieldKind, M extends RpcFieldMode = RpcFieldMode, S = unknown> {
  /** The field's type. */
  readonly kind: K;
  /** The field's tag: 0..2^32-1, unique within its structure. */
  readonly tag: number;
  /** Required, optional or an array. */
  readonly mode: M;
  /** The length of a `fixed_bytes` field; -1 for other kinds. */
  readonly length: number;
  readonly #ref: RpcStructRef<S> | null;

  private constructor(kind: K, tag: number, mode: M, length: number, ref: RpcStructRef<S> | null) {
    this.kind = kind;
    this.tag = tag;
    this.mode = mode;
    this.length = length;
    this.#ref = ref;
  }

  /** The nested structure of a `struct` field (calling the function it was given as); null for other kinds. */
  get struct(): S | null {
    const ref = this.#ref;
    if (ref === null) return null;
    return typeof ref === "function" ? (ref as () => S)() : ref;
  }

  /**
   * The same field, optional: sent only when set, may be absent when
   * decoded (`.rpc`: `optional`).
   *
   * @throws {TypeError} if the field is an array already
   */
  optional(): RpcField<K, "optional", S> {
    if ((this.mode as RpcFieldMode) === "array") throw new TypeError("a field cannot be both an array and optional");
    return new RpcField(this.kind, this.tag, "optional", this.length, this.#ref);
  }

  /**
   * The same field as an array: any number of elements, each its own
   * record under the tag (`.rpc`: `array`). Fields of kind int, int64,
   * string and struct can be arrays, as in event_rpcgen.py.
   *
   * @throws {TypeError} if the field is optional already, or bytes
   */
  array(): RpcField<K, "array", S> {
    if ((this.mode as RpcFieldMode) === "optional") throw new TypeError("a field cannot be both optional and an array");
    if (this.kind === "bytes" || this.kind === "fixed_bytes") {
      throw new TypeError("a bytes field cannot be an array (event_rpcgen.py refuses it too)");
    }
    return new RpcField(this.kind, this.tag, "array", this.length, this.#ref);
  }

  /**
   * An unsigned 32-bit integer field (`.rpc`: `int`), a number.
   *
   * @throws {TypeError} if tag is not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1
   */
  static int(tag: number): RpcField<"int", "required", unknown> {
    return new RpcField("int", checkInteger(tag, "tag", 0, U32_MAX), "required", -1, null);
  }

  /**
   * An unsigned 64-bit integer field (`.rpc`: `int64`): decoded as a
   * bigint; a bigint or a safe integer when encoded.
   *
   * @throws {TypeError} if tag is not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1
   */
  static int64(tag: number): RpcField<"int64", "required", unknown> {
    return new RpcField("int64", checkInteger(tag, "tag", 0, U32_MAX), "required", -1, null);
  }

  /**
   * A string field (`.rpc`: `string`), sent as UTF-8.
   *
   * @throws {TypeError} if tag is not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1
   */
  static string(tag: number): RpcField<"string", "required", unknown> {
    return new RpcField("string", checkInteger(tag, "tag", 0, U32_MAX), "required", -1, null);
  }

  /**
   * A bytes field of any length (`.rpc`: `bytes name`), a Uint8Array.
   *
   * @throws {TypeError} if tag is not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1
   */
  static bytes(tag: number): RpcField<"bytes", "required", unknown> {
    return new RpcField("bytes", checkInteger(tag, "tag", 0, U32_MAX), "required", -1, null);
  }

  /**
   * A bytes field of exactly `length` bytes (`.rpc`: `bytes name[N]`).
   *
   * @throws {TypeError} if tag or length is not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1, or length not one in 1..2^32-1
   */
  static fixedBytes(tag: number, length: number): RpcField<"fixed_bytes", "required", unknown> {
    checkInteger(tag, "tag", 0, U32_MAX);
    return new RpcField("fixed_bytes", tag, "required", checkInteger(length, "length", 1, U32_MAX), null);
  }

  /**
   * A nested structure (`.rpc`: `struct[Name]`): sent as one record whose
   * payload is the structure's own records. Give a function returning the
   * structure to refer to one declared later, or to the structure itself.
   *
   * @throws {TypeError} if struct is neither an RpcStruct nor a function, or tag is not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1
   */
  static struct<F extends RpcFields>(
    tag: number,
    struct: RpcStructRef<RpcStruct<F>>,
  ): RpcField<"struct", "required", RpcStruct<F>> {
    checkInteger(tag, "tag", 0, U32_MAX);
    if (!(struct instanceof RpcStruct) && typeof struct !== "function") {
      throw typeError("struct", "an RpcStruct or a function returning one", struct);
    }
    return new RpcField("struct", tag, "required", -1, struct);
  }
}

// ------------------------------------------------------------ compiled form

/** A field as the codec walks it: flat, with the nested structure resolved. */
interface Compiled {
  /** The field's position in its structure. */
  readonly index: number;
  readonly name: string;
  readonly kind: RpcFieldKind;
  readonly tag: number;
  readonly mode: RpcFieldMode;
  readonly length: number;
  readonly struct: RpcStruct | null;
}

/** A value the encoder refuses, with the path to it, built as the error goes up. */
class Refused {
  readonly rule: string;
  readonly value: unknown;
  readonly range: boolean;
  path: string;

  constructor(rule: string, value: unknown, range: boolean, path: string) {
    this.rule = rule;
    this.value = value;
    this.range = range;
    this.path = path;
  }
}

/** The scratch writer encode() fills; a copy of its bytes is returned, so it is reused. */
const SCRATCH_SIZE = 4096;
const SCRATCH_KEEP = 1 << 20;
const scratch = new EvtagWriter(SCRATCH_SIZE);

let compiledOf: (s: RpcStruct) => readonly Compiled[];
let byTagOf: (s: RpcStruct) => Map<number, Compiled>;

/**
 * A structure: libevent's `struct NAME` of a `.rpc` file, with the
 * functions event_rpcgen.py generates for it (`NAME_marshal`,
 * `NAME_unmarshal`, `NAME_complete`, `evtag_marshal_NAME`,
 * `evtag_unmarshal_NAME`). Values are plain objects typed by the fields
 * ({@linkcode RpcValue} when decoded, {@linkcode RpcInput} to encode).
 *
 * Decoding is as strict as the generated code: an unknown tag, a repeated
 * field that is not an array, a missing required field, fixed bytes of
 * another length or malformed records throw an {@linkcode RpcError};
 * encoding a value of the wrong type throws a TypeError (or a RangeError
 * for a number out of range, or fixed bytes of another length) naming the
 * field, `msg.run[0].how`.
 *
 * @example
 * ```ts
 * import { RpcField, RpcStruct } from "@levent/levent/rpc";
 * const Kill = new RpcStruct("kill", {
 *   weapon: RpcField.string(0x10121),
 *   action: RpcField.string(2),
 *   how_often: RpcField.int(3).array(),
 * });
 * const bytes = Kill.encode({ weapon: "dagger", action: "wave", how_often: [1, 2] });
 * const back = Kill.decode(bytes);
 * console.log(back.weapon, back.how_often); // dagger [ 1, 2 ]
 * ```
 */
export class RpcStruct<F extends RpcFields = RpcFields> {
  static {
    compiledOf = (s) => s.#compile();
    byTagOf = (s) => {
      s.#compile();
      return s.#byTag;
    };
  }

  /** The structure's name, as in the `.rpc` file (`msg`). */
  readonly name: string;
  /** The fields, by name, in wire order. */
  readonly fields: F;
  #compiled: Compiled[] | null = null;
  readonly #byTag: Map<number, Compiled> = new Map();

  /**
   * Declare a structure. Tags must differ within it; nested structures are
   * resolved on first use, so they may be declared later.
   *
   * @throws {TypeError} if name is not a non-empty string, fields is not an object of RpcFields, or two fields share a tag
   */
  constructor(name: string, fields: F) {
    this.name = checkNonEmptyString(name, "name");
    checkObject(fields, "fields");
    const tags = new Map<number, string>();
    for (const [key, field] of Object.entries(fields)) {
      if (!(field instanceof RpcField)) throw typeError(`fields.${key}`, "an RpcField", field);
      const other = tags.get(field.tag);
      if (other !== undefined) {
        throw new TypeError(`fields.${key} has tag ${field.tag}, as fields.${other} has: tags must differ`);
      }
      tags.set(field.tag, key);
    }
    this.fields = Object.freeze({ ...fields });
  }

  #compile(): Compiled[] {
    if (this.#compiled !== null) return this.#compiled;
    const out: Compiled[] = [];
    for (const [name, field] of Object.entries(this.fields)) {
      let struct: RpcStruct | null = null;
      if (field.kind === "struct") {
        const s = field.struct;
        if (!(s instanceof RpcStruct)) {
          throw typeError(`${this.name}.${name}'s structure`, "an RpcStruct", s);
        }
        struct = s;
      }
      const c: Compiled = {
        index: out.length,
        name,
        kind: field.kind,
        tag: field.tag,
        mode: field.mode,
        length: field.length,
        struct,
      };
      out.push(c);
      this.#byTag.set(c.tag, c);
    }
    this.#compiled = out;
    return out;
  }

  /**
   * Encode a value: its records, in field order (libevent `NAME_marshal`
   * into a fresh buffer).
   *
   * @throws {TypeError} if a required field is missing or a field has the wrong type (the message names it)
   * @throws {RangeError} if a number is out of its range or fixed bytes have another length
   */
  encode(value: RpcInput<F>): Uint8Array {
    const w = scratch;
    w.pos = 0;
    encodeChecked(this, value, w);
    const bytes = w.take();
    // One huge message must not keep its room for good.
    if (w.buf.length > SCRATCH_KEEP) w.buf = new Uint8Array(SCRATCH_SIZE);
    return bytes;
  }

  /**
   * Decode a whole structure from `bytes` (libevent `NAME_unmarshal`).
   *
   * @throws {RpcError} if the bytes are malformed, hold an unknown tag, repeat a field that is not an array, lack a required field or hold fixed bytes of another length
   * @throws {TypeError} if bytes is not a Uint8Array
   */
  decode(bytes: Uint8Array): RpcValue<F> {
    if (!(bytes instanceof Uint8Array)) throw typeError("bytes", "a Uint8Array", bytes);
    return decodeStruct(this, new EvtagReader(bytes)) as RpcValue<F>;
  }

  /**
   * Append a value's records to `buf` (libevent `NAME_marshal`).
   *
   * @throws {TypeError} if buf is not an EvBuffer, a required field is missing or a field has the wrong type
   * @throws {RangeError} if a number is out of its range or fixed bytes have another length
   */
  marshal(buf: EvBuffer, value: RpcInput<F>): void {
    if (!(buf instanceof EvBuffer)) throw typeError("buf", "an EvBuffer", buf);
    buf.add(this.encode(value));
  }

  /**
   * Decode a structure from everything in `buf`, draining it (libevent
   * `NAME_unmarshal`); on an error nothing is drained.
   *
   * @throws {RpcError} as {@linkcode RpcStruct.decode}
   * @throws {TypeError} if buf is not an EvBuffer
   */
  unmarshal(buf: EvBuffer): RpcValue<F> {
    if (!(buf instanceof EvBuffer)) throw typeError("buf", "an EvBuffer", buf);
    const value = decodeStruct(this, new EvtagReader(buf.pullup())) as RpcValue<F>;
    buf.drain(buf.length);
    return value;
  }

  /**
   * Append a value as one record of tag `tag` holding its records (libevent
   * `evtag_marshal_NAME`).
   *
   * @throws {TypeError} if buf is not an EvBuffer, tag not a number, or the value is not one of this structure
   * @throws {RangeError} if tag is not an integer in 0..2^32-1, or a number in the value is out of range
   */
  marshalTagged(buf: EvBuffer, tag: number, value: RpcInput<F>): void {
    if (!(buf instanceof EvBuffer)) throw typeError("buf", "an EvBuffer", buf);
    checkInteger(tag, "tag", 0, U32_MAX);
    const w = scratch;
    w.pos = 0;
    w.tag(tag);
    const start = w.pos;
    encodeChecked(this, value, w);
    w.closeRecord(start);
    buf.add(w.take());
  }

  /**
   * Read and drain one record of tag `tag` and decode its payload as this
   * structure (libevent `evtag_unmarshal_NAME`); on an error nothing is
   * drained.
   *
   * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, else as {@linkcode RpcStruct.decode}
   * @throws {TypeError} if buf is not an EvBuffer or tag not a number
   * @throws {RangeError} if tag is not an integer in 0..2^32-1
   */
  unmarshalTagged(buf: EvBuffer, tag: number): RpcValue<F> {
    if (!(buf instanceof EvBuffer)) throw typeError("buf", "an EvBuffer", buf);
    checkInteger(tag, "tag", 0, U32_MAX);
    const head = new EvtagReader(buf.pullup(Math.min(10, buf.length)));
    head.tag();
    const length = head.int();
    const size = head.pos + length;
    if (buf.length < size) throw new RpcError("ERR_RPC_MALFORMED", "malformed evtag data: a record is cut short");
    const r = new EvtagReader(buf.pullup(size));
    const got = r.header();
    if (got !== tag) {
      throw new RpcError("ERR_RPC_TAG_MISMATCH", `expected a record of tag ${tag}, found tag ${got}`);
    }
    r.end = r.recordEnd;
    const value = decodeStruct(this, r) as RpcValue<F>;
    buf.drain(size);
    return value;
  }

  /**
   * Whether `value` has every required field, of the right types, nested
   * structures included (libevent `NAME_complete`, which the server runs on
   * a reply before sending it).
   */
  isComplete(value: unknown): boolean {
    const w = new EvtagWriter(256);
    try {
      encodeStruct(this, value, w);
      return true;
    } catch (err) {
      if (err instanceof Refused) return false;
      throw err;
    }
  }
}

// ------------------------------------------------------------ encoding

/** Encode with the path of a refused value turned into a TypeError or RangeError naming it. */
function encodeChecked(s: RpcStruct, value: unknown, w: EvtagWriter): void {
  try {
    encodeStruct(s, value, w);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    const name = s.name + err.path;
    if (err.range) {
      if (err.value instanceof Uint8Array) {
        throw new RangeError(`${name} must be ${err.rule}, got ${err.value.length} bytes`);
      }
      throw rangeError(name, err.rule, err.value);
    }
    throw typeError(name, err.rule, err.value);
  }
}

function encodeStruct(s: RpcStruct, value: unknown, w: EvtagWriter): void {
  if (value === null || typeof value !== "object") throw new Refused("an object", value, false, "");
  const obj = value as Record<string, unknown>;
  for (const f of compiledOf(s)) {
    const v = obj[f.name];
    try {
      if (f.mode === "array") {
        if (v === undefined) continue;
        if (!Array.isArray(v)) throw new Refused("an array", v, false, "");
        for (let i = 0; i < v.length; i++) {
          try {
            encodeField(f, v[i], w);
          } catch (err) {
            if (err instanceof Refused) err.path = `[${i}]` + err.path;
            throw err;
          }
        }
      } else if (v !== undefined || f.mode === "required") {
        encodeField(f, v, w);
      }
    } catch (err) {
      if (err instanceof Refused) err.path = "." + f.name + err.path;
      throw err;
    }
  }
}

function encodeField(f: Compiled, v: unknown, w: EvtagWriter): void {
  switch (f.kind) {
    case "int": {
      if (typeof v !== "number") throw new Refused("an integer in 0..2^32-1", v, false, "");
      if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new Refused("an integer in 0..2^32-1", v, true, "");
      w.tag(f.tag);
      w.int(intSize(v));
      w.int(v);
      return;
    }
    case "int64": {
      let parts: [number, number];
      try {
        parts = u64Parts(v, "value");
      } catch (err) {
        throw new Refused("a bigint (or a safe integer) in 0..2^64-1", v, err instanceof RangeError, "");
      }
      const [lo, hi] = parts;
      w.tag(f.tag);
      w.int(int64Size(lo, hi));
      w.int64(lo, hi);
      return;
    }
    case "string":
      if (typeof v !== "string") throw new Refused("a string", v, false, "");
      w.stringRecord(f.tag, v);
      return;
    case "bytes":
      if (!(v instanceof Uint8Array)) throw new Refused("a Uint8Array", v, false, "");
      w.tag(f.tag);
      w.int(v.length);
      w.bytes(v);
      return;
    case "fixed_bytes":
      if (!(v instanceof Uint8Array)) throw new Refused(`a Uint8Array of ${f.length} bytes`, v, false, "");
      if (v.length !== f.length) throw new Refused(`a Uint8Array of ${f.length} bytes`, v, true, "");
      w.tag(f.tag);
      w.int(v.length);
      w.bytes(v);
      return;
    case "struct": {
      w.tag(f.tag);
      const start = w.pos;
      encodeStruct(f.struct!, v, w);
      w.closeRecord(start);
      return;
    }
  }
}

// ------------------------------------------------------------ decoding

function decodeStruct(s: RpcStruct, r: EvtagReader): Record<string, unknown> {
  const fields = compiledOf(s);
  const byTag = byTagOf(s);
  // Values by field index first, so the object gets its keys in declared order whatever the wire order.
  const values: unknown[] = new Array(fields.length);
  const end = r.end;
  while (r.pos < end) {
    const tag = r.header();
    const f = byTag.get(tag);
    if (f === undefined) {
      throw new RpcError("ERR_RPC_UNKNOWN_TAG", `struct ${s.name} has no field of tag ${tag}`);
    }
    const recordEnd = r.recordEnd;
    let value: unknown;
    switch (f.kind) {
      case "int":
        value = r.intPayload();
        break;
      case "int64":
        value = r.int64Payload();
        break;
      case "string":
        value = r.string();
        break;
      case "bytes":
        value = r.payload();
        break;
      case "fixed_bytes":
        if (recordEnd - r.pos !== f.length) {
          throw new RpcError(
            "ERR_RPC_FIELD_LENGTH",
            `struct ${s.name}: field ${f.name} holds ${recordEnd - r.pos} bytes, not ${f.length}`,
          );
        }
        value = r.payload();
        break;
      case "struct":
        r.end = recordEnd;
        value = decodeStruct(f.struct!, r);
        r.end = end;
        break;
    }
    r.pos = recordEnd;
    const i = f.index;
    if (f.mode === "array") {
      const list = values[i] as unknown[] | undefined;
      if (list === undefined) values[i] = [value];
      else list.push(value);
    } else {
      if (values[i] !== undefined) {
        throw new RpcError("ERR_RPC_DUPLICATE_FIELD", `struct ${s.name}: field ${f.name} (tag ${tag}) comes twice`);
      }
      values[i] = value;
    }
  }
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = values[i];
    if (v !== undefined) obj[f.name] = v;
    else if (f.mode === "array") obj[f.name] = [];
    else if (f.mode === "required") {
      throw new RpcError("ERR_RPC_MISSING_FIELD", `struct ${s.name}: the required field ${f.name} is missing`);
    }
  }
  return obj;
}
