/**
 * CRC-32 (IEEE 802.3, the checksum of zlib's `crc32`: same polynomial, same values) in a tiny
 * WebAssembly function, eight bytes per step ("slicing by 8"), for the small values of the append
 * path. For ~120 bytes a call to `zlib.crc32` costs mostly the call into C++, not the sum; the
 * same loop in JavaScript cost ~1,650 instructions per entry under callgrind (bounds checks on
 * every table lookup), about an eighth of an append. WebAssembly reads its memory and tables
 * without those checks, and the bytes are summed where the encoder writes them: its scratch
 * buffer is this module's memory. Above a few hundred bytes zlib's own loop is faster.
 */

/** The part of the WebAssembly API used here (the project's `lib` has no DOM types, which hold it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
  ) => { exports: { memory: { buffer: ArrayBuffer }; crc32: (p: number, n: number) => number } };
};

/** Eight tables of 256 entries: `TABLES[k * 256 + b]` is the CRC of byte `b` followed by `k` zero bytes. */
const TABLES = new Int32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLES[b] = c;
}
for (let k = 1; k < 8; k++) {
  for (let b = 0; b < 256; b++) {
    const previous = TABLES[(k - 1) * 256 + b]!;
    TABLES[k * 256 + b] = (previous >>> 8) ^ TABLES[previous & 0xff]!;
  }
}

/** The tables sit at the start of the memory (8 KiB); the scratch bytes follow them. */
const TABLES_BYTES = TABLES.byteLength;
const PAGE = 64 * 1024;
const PAGES = 2;

/** Unsigned LEB128, as the binary format writes sizes, indexes and memory offsets. */
function u32(n: number): number[] {
  const out: number[] = [];
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? byte : byte | 0x80);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a small constant (-64..63 in one byte, 255 in two). */
function s32(n: number): number[] {
  return n === 255 ? [0xff, 0x01] : [n & 0x7f];
}

const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  get: 0x20,
  set: 0x21,
  const: 0x41,
  add: 0x6a,
  and: 0x71,
  xor: 0x73,
  shl: 0x74,
  shrU: 0x76,
  geU: 0x4f,
} as const;
// Parameters and locals of the function, by index.
const P = 0;
const N = 1;
const C = 2;
const END8 = 3;
const END = 4;
const LO = 5;

/** `i32.load` at the address on the stack plus `offset` (4-byte aligned). */
const load = (offset: number): number[] => [0x28, 0x02, ...u32(offset)];
/** `i32.load8_u` at the address on the stack plus `offset`. */
const loadByte = (offset: number): number[] => [0x2d, 0x00, ...u32(offset)];
/** `table[k][memory[p + at]]` */
const lookupByte = (at: number, k: number): number[] => [
  op.get,
  P,
  ...loadByte(at),
  op.const,
  2,
  op.shl,
  ...load(k * 1024),
];
/** `table[k][(word >>> shift) & 0xff]` */
function lookup(word: number, shift: number, k: number): number[] {
  const byte =
    shift === 24
      ? [op.get, word, op.const, ...s32(24), op.shrU]
      : [
          op.get,
          word,
          ...(shift > 0 ? [op.const, ...s32(shift), op.shrU] : []),
          op.const,
          ...s32(255),
          op.and,
        ];
  return [...byte, op.const, 2, op.shl, ...load(k * 1024)];
}

/**
 * `crc32(p, n)`: the CRC-32 of memory bytes `[p, p + n)`. In text form:
 *   c = -1; end = p + n; end8 = p + (n & -8)
 *   while (p < end8) {
 *     lo = c ^ load(p); c = T7[lo & ff] ^ T6[lo >>> 8 & ff] ^ … ^ T4[lo >>> 24]
 *       ^ T3[load8_u(p + 4)] ^ … ^ T0[load8_u(p + 7)]; p += 8
 *   }
 *   while (p < end) { c = T0[(c ^ load8_u(p)) & ff] ^ (c >>> 8); p += 1 }
 *   return ~c
 */
// biome-ignore format: one line per step of the text form above
const body = [
  1, 4, 0x7f, // four i32 locals: c, end8, end, lo
  op.const, ...s32(-1), op.set, C,
  op.get, P, op.get, N, op.add, op.set, END,
  op.get, P, op.get, N, op.const, ...s32(-8), op.and, op.add, op.set, END8,
  ...op.block, ...op.loop,
  op.get, P, op.get, END8, op.geU, op.brIf, 1,
  op.get, C, op.get, P, ...load(0), op.xor, op.set, LO,
  ...lookup(LO, 0, 7), ...lookup(LO, 8, 6), op.xor, ...lookup(LO, 16, 5), op.xor, ...lookup(LO, 24, 4), op.xor,
  ...lookupByte(4, 3), op.xor, ...lookupByte(5, 2), op.xor, ...lookupByte(6, 1), op.xor, ...lookupByte(7, 0), op.xor,
  op.set, C,
  op.get, P, op.const, 8, op.add, op.set, P,
  op.br, 0, op.end, op.end,
  ...op.block, ...op.loop,
  op.get, P, op.get, END, op.geU, op.brIf, 1,
  op.get, C, op.get, P, ...loadByte(0), op.xor, op.const, ...s32(255), op.and, op.const, 2, op.shl, ...load(0),
  op.get, C, op.const, 8, op.shrU, op.xor, op.set, C,
  op.get, P, op.const, 1, op.add, op.set, P,
  op.br, 0, op.end, op.end,
  op.get, C, op.const, ...s32(-1), op.xor,
  op.end,
];

const section = (id: number, content: number[]): number[] => [id, ...u32(content.length), ...content];
const name = (s: string): number[] => [s.length, ...Buffer.from(s, 'latin1')];

const MODULE = new WebAssembly.Module(
  Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]), // type 0: (i32, i32) -> i32
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0x00, PAGES]), // one memory of PAGES pages, no maximum
    ...section(7, [2, ...name('crc32'), 0x00, 0, ...name('memory'), 0x02, 0]),
    ...section(10, [1, ...u32(body.length), ...body]),
  ]),
);

/**
 * Bytes to write values into and the CRC-32 of their start: each instance has its own memory
 * (which never grows, so `bytes` stays valid).
 */
export class Crc32Scratch {
  /** Most bytes `bytes` holds. */
  static readonly BYTES = PAGES * PAGE - TABLES_BYTES;
  readonly bytes: Buffer;
  readonly #sum: (at: number, length: number) => number;

  constructor() {
    const instance = new WebAssembly.Instance(MODULE);
    const { memory, crc32 } = instance.exports;
    new Int32Array(memory.buffer, 0, TABLES.length).set(TABLES);
    this.bytes = Buffer.from(memory.buffer, TABLES_BYTES, Crc32Scratch.BYTES);
    this.#sum = crc32;
  }

  /** CRC-32 of the first `length` bytes of {@link bytes}. */
  sum(length: number): number {
    return this.#sum(TABLES_BYTES, length) >>> 0;
  }
}
