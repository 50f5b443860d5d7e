import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The handshake that opens every peer connection, proving both ends hold the cluster secret
 * before any Raft message is read. Three frames, each a fixed-size payload:
 *
 * 1. acceptor → dialer, HELLO: `"RLP2"`, nonceA (32 random bytes).
 * 2. dialer → acceptor, AUTH: dialer id (u64 BE), nonceD (32 random bytes),
 *    HMAC-SHA256(secret, nonceA ‖ dialer id ‖ acceptor id).
 * 3. acceptor → dialer, ACCEPT: seen (u64 BE), HMAC-SHA256(secret, "accept" ‖ nonceD ‖ acceptor
 *    id ‖ dialer id ‖ seen), where `seen` is the highest sync counter the acceptor has seen from
 *    the dialer (what a restarted broker checks its data directory against: `rollback-guard.ts`).
 *
 * Binding both ids into the MAC means an AUTH answer cannot be replayed to another acceptor or
 * under another id; the label keeps the two MACs in different input domains, so neither side can
 * be used as an oracle for the other's proof. `seen` is under the MAC too: a forged one could stop
 * a healthy broker from starting, or let a rolled-back one start. The link is not encrypted:
 * confidentiality on an untrusted network needs TLS or a private network.
 */

const MAGIC = Buffer.from('RLP2', 'latin1');
const ACCEPT_LABEL = Buffer.from('accept', 'latin1');
const NONCE_BYTES = 32;
const MAC_BYTES = 32;
const ID_BYTES = 8;
const COUNTER_BYTES = 8;

export const HELLO_BYTES = MAGIC.length + NONCE_BYTES;
export const AUTH_BYTES = ID_BYTES + NONCE_BYTES + MAC_BYTES;
export const ACCEPT_BYTES = COUNTER_BYTES + MAC_BYTES;

/** A fresh random nonce. */
export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** The acceptor's first frame. */
export function helloPayload(nonce: Buffer): Buffer {
  return Buffer.concat([MAGIC, nonce]);
}

/** The acceptor's nonce from a HELLO payload, or `undefined` if it is not one. */
export function parseHello(payload: Buffer): Buffer | undefined {
  if (payload.length !== HELLO_BYTES || !payload.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  return payload.subarray(MAGIC.length);
}

/** The dialer's answer to a HELLO. */
export function authPayload(
  secret: Buffer,
  dialer: number,
  acceptor: number,
  acceptorNonce: Buffer,
  dialerNonce: Buffer,
): Buffer {
  return Buffer.concat([id(dialer), dialerNonce, dialMac(secret, acceptorNonce, dialer, acceptor)]);
}

/** An AUTH payload taken apart, before verification. */
export interface AuthClaim {
  readonly dialer: number;
  readonly dialerNonce: Buffer;
  readonly mac: Buffer;
}

/** Parse an AUTH payload, or `undefined` if its size or id is wrong. */
export function parseAuth(payload: Buffer): AuthClaim | undefined {
  if (payload.length !== AUTH_BYTES) return undefined;
  const dialer = payload.readBigUInt64BE(0);
  if (dialer > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    dialer: Number(dialer),
    dialerNonce: payload.subarray(ID_BYTES, ID_BYTES + NONCE_BYTES),
    mac: payload.subarray(ID_BYTES + NONCE_BYTES),
  };
}

/** True when the claim proves knowledge of `secret` for this acceptor and nonce. */
export function verifyAuth(
  secret: Buffer,
  claim: AuthClaim,
  acceptor: number,
  acceptorNonce: Buffer,
): boolean {
  return timingSafeEqual(claim.mac, dialMac(secret, acceptorNonce, claim.dialer, acceptor));
}

/**
 * The acceptor's answer, sent once the dialer is verified: `seen`, the highest sync counter it has
 * seen from the dialer, and its proof over it.
 */
export function acceptPayload(
  secret: Buffer,
  acceptor: number,
  dialer: number,
  dialerNonce: Buffer,
  seen: number,
): Buffer {
  const counter = id(seen);
  return Buffer.concat([counter, acceptMac(secret, dialerNonce, acceptor, dialer, counter)]);
}

/**
 * The sync counter an ACCEPT payload vouches for, or `undefined` when the payload does not prove
 * that the acceptor knows `secret`.
 */
export function openAccept(
  secret: Buffer,
  payload: Buffer,
  acceptor: number,
  dialer: number,
  dialerNonce: Buffer,
): number | undefined {
  if (payload.length !== ACCEPT_BYTES) return undefined;
  const counter = payload.subarray(0, COUNTER_BYTES);
  const mac = acceptMac(secret, dialerNonce, acceptor, dialer, counter);
  if (!timingSafeEqual(payload.subarray(COUNTER_BYTES), mac)) return undefined;
  const seen = counter.readBigUInt64BE(0);
  return seen > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(seen);
}

function dialMac(secret: Buffer, acceptorNonce: Buffer, dialer: number, acceptor: number): Buffer {
  return createHmac('sha256', secret).update(acceptorNonce).update(id(dialer)).update(id(acceptor)).digest();
}

function acceptMac(
  secret: Buffer,
  dialerNonce: Buffer,
  acceptor: number,
  dialer: number,
  counter: Buffer,
): Buffer {
  return createHmac('sha256', secret)
    .update(ACCEPT_LABEL)
    .update(dialerNonce)
    .update(id(acceptor))
    .update(id(dialer))
    .update(counter)
    .digest();
}

function id(n: number): Buffer {
  const out = Buffer.allocUnsafe(ID_BYTES);
  out.writeBigUInt64BE(BigInt(n));
  return out;
}
