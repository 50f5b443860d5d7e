import { describe, expect, it } from 'vitest';
import {
  ACCEPT_BYTES,
  acceptPayload,
  authPayload,
  helloPayload,
  newNonce,
  openAccept,
  parseAuth,
  parseHello,
  verifyAuth,
} from '../../src/partition/peer-handshake.js';

const secret = Buffer.from('cluster secret');

describe('peer handshake', () => {
  const acceptorNonce = newNonce();
  const dialerNonce = newNonce();
  const auth = authPayload(secret, 1, 2, acceptorNonce, dialerNonce);

  it('a dialer holding the secret is verified, with its id and nonce', () => {
    expect(parseHello(helloPayload(acceptorNonce))).toEqual(acceptorNonce);
    const claim = parseAuth(auth)!;
    expect(claim.dialer).toBe(1);
    expect(claim.dialerNonce).toEqual(dialerNonce);
    expect(verifyAuth(secret, claim, 2, acceptorNonce)).toBe(true);
  });

  it('a proof fails under another secret, acceptor, nonce or claimed id, or with any bit flipped', () => {
    const claim = parseAuth(auth)!;
    expect(verifyAuth(Buffer.from('other secret'), claim, 2, acceptorNonce)).toBe(false);
    expect(verifyAuth(secret, claim, 3, acceptorNonce)).toBe(false);
    expect(verifyAuth(secret, claim, 2, newNonce())).toBe(false);
    for (let bit = 0; bit < auth.length * 8; bit += 7) {
      const tampered = Buffer.from(auth);
      tampered[bit >> 3]! ^= 1 << (bit & 7);
      const c = parseAuth(tampered);
      // Flipping a dialer-nonce bit leaves the proof intact: the nonce only feeds the acceptor's answer.
      const inNonce = bit >= 64 && bit < 64 + 256;
      if (c !== undefined && !inNonce) expect(verifyAuth(secret, c, 2, acceptorNonce)).toBe(false);
    }
  });

  it('the acceptor proves the secret back, bound to the dialer nonce; the dial proof cannot stand in for it', () => {
    const accept = acceptPayload(secret, 2, 1, dialerNonce, 0);
    expect(accept.length).toBe(ACCEPT_BYTES);
    expect(openAccept(secret, accept, 2, 1, dialerNonce)).toBe(0);
    expect(openAccept(secret, accept, 2, 1, newNonce())).toBeUndefined();
    expect(openAccept(secret, accept, 1, 2, dialerNonce)).toBeUndefined();
    expect(openAccept(Buffer.from('other'), accept, 2, 1, dialerNonce)).toBeUndefined();
    // An acceptor echoing a dial proof computed over the dialer's nonce gains nothing.
    const reflected = parseAuth(authPayload(secret, 2, 1, dialerNonce, newNonce()))!;
    const echoed = Buffer.concat([Buffer.alloc(8), reflected.mac]);
    expect(openAccept(secret, echoed, 2, 1, dialerNonce)).toBeUndefined();
  });

  it('the answer carries the sync counter the acceptor saw from the dialer, under the proof', () => {
    const seen = Number.MAX_SAFE_INTEGER - 3;
    const accept = acceptPayload(secret, 2, 1, dialerNonce, seen);
    expect(openAccept(secret, accept, 2, 1, dialerNonce)).toBe(seen);
    // Any change to the counter (a forged answer, or a bit flipped on the way) is refused.
    for (let bit = 0; bit < 64; bit++) {
      const tampered = Buffer.from(accept);
      tampered[bit >> 3]! ^= 1 << (bit & 7);
      expect(openAccept(secret, tampered, 2, 1, dialerNonce)).toBeUndefined();
    }
    expect(openAccept(secret, accept.subarray(1), 2, 1, dialerNonce)).toBeUndefined();
  });

  it('malformed handshake frames are not parsed', () => {
    expect(parseHello(Buffer.alloc(36))).toBeUndefined();
    expect(parseHello(helloPayload(acceptorNonce).subarray(1))).toBeUndefined();
    expect(parseAuth(auth.subarray(1))).toBeUndefined();
    const hugeId = Buffer.from(auth);
    hugeId.writeBigUInt64BE(2n ** 63n);
    expect(parseAuth(hugeId)).toBeUndefined();
  });
});
