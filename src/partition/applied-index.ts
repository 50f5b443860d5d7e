/** The applied index a group's state machine has made durable, as an 8-byte big-endian value. */
export function encodeApplied(index: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(index));
  return out;
}

export function decodeApplied(bytes: Uint8Array): number {
  if (bytes.byteLength !== 8)
    throw new RangeError(`applied index: expected 8 bytes, got ${bytes.byteLength}`);
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
}
