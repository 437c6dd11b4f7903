// The peer protocol's cryptography (P2P-2, P2P-3), against known answers. The expected values were
// computed by a separate implementation written from docs/PROTOCOL.md, peer-crypto-vectors.py next
// to this file (Python: hmac, hashlib, and the `cryptography` package's HKDF, X25519 and AESGCM),
// and K, kRP and macR were checked once more with openssl's command line. The ephemeral key pairs
// are RFC 7748's (section 6.1) Alice and Bob, so ePubR, ePubP and the shared secret are the RFC's.

import { describe, expect, test } from 'bun:test';
import { createPublicKey, hkdfSync } from 'node:crypto';
import {
  boxIv,
  Channel,
  ephemeralFromPrivate,
  helloMac,
  isEphemeralKey,
  isToken,
  macMatches,
  newEphemeral,
  newNonce,
  open,
  seal,
  sessionKeys,
  sharedSecret,
  tokenKey,
  welcomeMac,
} from '../../src/p2p/peer-crypto.ts';

const TOKEN = '0123456789abcdef0123456789abcdef';
const NONCE_R = '00112233445566778899aabbccddeeff';
const NONCE_P = 'ffeeddccbbaa99887766554433221100';
const E_PRIV_R = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const E_PRIV_P = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';

const K = 'ecc8c9564ae2961cf69200ccc40ceda987f3a23a6595e86e400344bc980390c6';
const E_PUB_R = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const E_PUB_P = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
const MAC_R = 'bded4081e4756ac75142bbdf0e75408d38c9fbfaad4336ef23ff644f999adac9';
const MAC_P = '0f4b7117c5121fc9fc71740b2a35e54b8f9ec9dedc71fd038f28b3644a09af6b';
const K_RP = '05d4c71e80f8993fed1b885752cac08ad8fb3eb841b6403c548e15f25eef0ec4';
const K_PR = 'da21d0c5a88fd93596382a89076c6eb9c8a63aabf38611ac5568e84a0a7ca970';
/** What K with an all-zero "shared secret" would give: not kRP. */
const K_RP_ZERO = 'c18da1faf0d8ebb3ff0ded4d684c90be333c56f811746b9b63a4553929a365ec';
const HI = '{"t":"msg","text":"hi"}';
const BOX_RP_0 = 'fMV7Mp2pjU/Km1LhMGGSxEYnBGipQga4bbjDwG6KX9GVOdE5pScl';
const BOX_RP_1 = 'ne1zpMHVkX2N66o8c2qtXhIMJctTm5OWSw0GSfx6t9jkPff7211g';
const BOX_PR_0 = 'LFincLrwmKr/vvpTUvS5Lh2zR5Vvmu1Fq2pE';

/**
 * X25519 public keys of small order (libsodium's list): with any private key the shared secret is
 * all zero. The last three are the first ones with the top bit set, which X25519 ignores.
 */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
];

const key = tokenKey(TOKEN);
const requesterEph = ephemeralFromPrivate(E_PRIV_R);
const peerEph = ephemeralFromPrivate(E_PRIV_P);
const shared = Buffer.from(SHARED, 'hex');

describe('key derivation and MACs (P2P-2): known answers', () => {
  test('K = HKDF-SHA256(token bytes, "chat-p2p-v2", "key")', () => {
    expect(key.toString('hex')).toBe(K);
    // Hex case does not matter: it is the token's bytes that count.
    expect(tokenKey(TOKEN.toUpperCase()).toString('hex')).toBe(K);
    // The v1 K (salt "chat-p2p-v1") is another key: an old peer's MACs never check out.
    expect(Buffer.from(hkdfSync('sha256', Buffer.from(TOKEN, 'hex'), 'chat-p2p-v1', 'key', 32)).toString('hex')).not.toBe(K);
  });

  test('ephemeral keys: raw 32-byte public keys in hex, and X25519 agrees both ways (RFC 7748 6.1)', () => {
    expect(requesterEph.publicKey).toBe(E_PUB_R);
    expect(peerEph.publicKey).toBe(E_PUB_P);
    expect(sharedSecret(requesterEph, E_PUB_P)?.toString('hex')).toBe(SHARED);
    expect(sharedSecret(peerEph, E_PUB_R)?.toString('hex')).toBe(SHARED);
  });

  test('fresh ephemeral keys: a new pair each time, exported the same as by JWK, agreeing both ways', () => {
    const a = newEphemeral();
    const b = newEphemeral();
    for (const e of [a, b]) {
      expect(isEphemeralKey(e.publicKey)).toBe(true);
      expect(e.privateKey.asymmetricKeyType).toBe('x25519');
      // A second encoding of the same public key gives the same raw bytes.
      const jwk = createPublicKey(e.privateKey).export({ format: 'jwk' });
      expect(Buffer.from(jwk.x as string, 'base64url').toString('hex')).toBe(e.publicKey);
    }
    expect(a.publicKey).not.toBe(b.publicKey);
    const ab = sharedSecret(a, b.publicKey);
    expect(ab).toHaveLength(32);
    expect(sharedSecret(b, a.publicKey)?.equals(ab as Buffer)).toBe(true);
  });

  test('macR binds requester, peer, nonceR and ePubR; macP binds both nonces and both ephemeral keys too', () => {
    expect(helloMac(key, 'hans', 'yoda', NONCE_R, E_PUB_R)).toBe(MAC_R);
    expect(welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, E_PUB_R, E_PUB_P)).toBe(MAC_P);
    expect(helloMac(key, 'vader', 'yoda', NONCE_R, E_PUB_R)).not.toBe(MAC_R);
    expect(helloMac(key, 'hans', 'leia', NONCE_R, E_PUB_R)).not.toBe(MAC_R);
    expect(helloMac(tokenKey('f'.repeat(32)), 'hans', 'yoda', NONCE_R, E_PUB_R)).not.toBe(MAC_R);
    // A welcome from another session (another nonceR) is worthless for this one.
    expect(welcomeMac(key, 'hans', 'yoda', NONCE_P, NONCE_P, E_PUB_R, E_PUB_P)).not.toBe(MAC_P);
  });

  test('a tampered ePubR or ePubP is caught by the MAC: one flipped bit, a swap, or an attacker’s own key', () => {
    const flip = (hex: string, bit: number) => {
      const b = Buffer.from(hex, 'hex');
      b[bit >> 3] = (b[bit >> 3] as number) ^ (1 << (bit & 7));
      return b.toString('hex');
    };
    const mallory = newEphemeral().publicKey;
    for (const bit of [0, 100, 255]) {
      expect(macMatches(MAC_R, helloMac(key, 'hans', 'yoda', NONCE_R, flip(E_PUB_R, bit)))).toBe(false);
      expect(macMatches(MAC_P, welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, flip(E_PUB_R, bit), E_PUB_P))).toBe(false);
      expect(macMatches(MAC_P, welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, E_PUB_R, flip(E_PUB_P, bit)))).toBe(false);
    }
    expect(macMatches(MAC_R, helloMac(key, 'hans', 'yoda', NONCE_R, mallory))).toBe(false);
    expect(macMatches(MAC_P, welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, mallory, E_PUB_P))).toBe(false);
    expect(macMatches(MAC_P, welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, E_PUB_R, mallory))).toBe(false);
    expect(macMatches(MAC_P, welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, E_PUB_P, E_PUB_R))).toBe(false);
    // Both untouched: the MACs check out.
    expect(macMatches(MAC_R, helloMac(key, 'hans', 'yoda', NONCE_R, E_PUB_R))).toBe(true);
    expect(macMatches(MAC_P, welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P, E_PUB_R, E_PUB_P))).toBe(true);
  });

  test('session keys: one per direction, from K, the X25519 secret and both nonces', () => {
    const keys = sessionKeys(key, shared, NONCE_R, NONCE_P);
    expect(keys.requesterToPeer.toString('hex')).toBe(K_RP);
    expect(keys.peerToRequester.toString('hex')).toBe(K_PR);
    expect(sessionKeys(key, shared, NONCE_R, NONCE_R).requesterToPeer.toString('hex')).not.toBe(K_RP);
  });

  test('two handshakes with the same token and even the same nonces get different keys: fresh ephemerals', () => {
    const handshake = () => {
      const r = newEphemeral();
      const p = newEphemeral();
      const atRequester = sessionKeys(key, sharedSecret(r, p.publicKey) as Buffer, NONCE_R, NONCE_P);
      const atPeer = sessionKeys(key, sharedSecret(p, r.publicKey) as Buffer, NONCE_R, NONCE_P);
      expect(atRequester.requesterToPeer.equals(atPeer.requesterToPeer)).toBe(true);
      expect(atRequester.peerToRequester.equals(atPeer.peerToRequester)).toBe(true);
      return atRequester;
    };
    const first = handshake();
    const second = handshake();
    expect(first.requesterToPeer.equals(second.requesterToPeer)).toBe(false);
    expect(first.peerToRequester.equals(second.peerToRequester)).toBe(false);
    for (const k of [first.requesterToPeer, second.requesterToPeer]) expect(k.toString('hex')).not.toBe(K_RP);
  });

  test('K without an ephemeral private key does not give the session keys: a recorded box stays shut', () => {
    // Everything on the wire (nonces, ePubR, ePubP, the box) plus K, as a later leak of the token
    // would give it. Every guess at the shared secret that can be made from that fails.
    expect(open(Buffer.from(K_RP, 'hex'), 0, BOX_RP_0)).toBe(HI);
    const zero = sessionKeys(key, Buffer.alloc(32), NONCE_R, NONCE_P).requesterToPeer;
    expect(zero.toString('hex')).toBe(K_RP_ZERO);
    const mallory = newEphemeral();
    const guesses = [
      Buffer.alloc(32),
      Buffer.from(E_PUB_R, 'hex'),
      Buffer.from(E_PUB_P, 'hex'),
      sharedSecret(mallory, E_PUB_R) as Buffer,
      sharedSecret(mallory, E_PUB_P) as Buffer,
      key,
    ];
    for (const guess of guesses) {
      const { requesterToPeer, peerToRequester } = sessionKeys(key, guess, NONCE_R, NONCE_P);
      expect(open(requesterToPeer, 0, BOX_RP_0)).toBeUndefined();
      expect(open(peerToRequester, 0, BOX_PR_0)).toBeUndefined();
    }
    // K alone, as v1 derived the keys, does not open it either.
    const salt = Buffer.from(NONCE_R + NONCE_P, 'hex');
    expect(open(Buffer.from(hkdfSync('sha256', key, salt, 'requester->peer', 32)), 0, BOX_RP_0)).toBeUndefined();
    // Nor does Channel with K and a wrong secret.
    expect(Channel.forPeer(key, sharedSecret(mallory, E_PUB_R) as Buffer, NONCE_R, NONCE_P).open(BOX_RP_0)).toBeUndefined();
  });

  test('a small-order or malformed public key gives no shared secret', () => {
    for (const bad of SMALL_ORDER) {
      expect(isEphemeralKey(bad)).toBe(true);
      expect(sharedSecret(requesterEph, bad)).toBeUndefined();
      expect(sharedSecret(peerEph, bad)).toBeUndefined();
      expect(sharedSecret(newEphemeral(), bad)).toBeUndefined();
    }
    for (const bad of ['', E_PUB_P.slice(2), `${E_PUB_P}00`, E_PUB_P.toUpperCase(), `${E_PUB_P.slice(1)}g`]) {
      expect(isEphemeralKey(bad)).toBe(false);
      expect(sharedSecret(requesterEph, bad)).toBeUndefined();
    }
    expect(() => sessionKeys(key, Buffer.alloc(31), NONCE_R, NONCE_P)).toThrow();
    expect(() => ephemeralFromPrivate('00')).toThrow();
  });

  test('macMatches: equal MACs only, malformed ones never', () => {
    expect(macMatches(MAC_R, MAC_R)).toBe(true);
    expect(macMatches(MAC_P, MAC_R)).toBe(false);
    expect(macMatches(MAC_R.slice(0, 62), MAC_R)).toBe(false);
    expect(macMatches(MAC_R.toUpperCase(), MAC_R)).toBe(false);
    expect(macMatches('', '')).toBe(false);
  });

  test('tokens and nonces', () => {
    expect(isToken(TOKEN)).toBe(true);
    for (const bad of ['', 'a'.repeat(31), 'a'.repeat(33), 'g'.repeat(32)]) {
      expect(isToken(bad)).toBe(false);
      expect(() => tokenKey(bad)).toThrow();
    }
    const a = newNonce();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newNonce()).not.toBe(a);
    expect(() => sessionKeys(key, shared, 'x', NONCE_P)).toThrow();
  });
});

describe('boxes (P2P-3): AES-256-GCM with a per-direction counter', () => {
  const kRP = Buffer.from(K_RP, 'hex');
  const kPR = Buffer.from(K_PR, 'hex');

  test('known answers: IV = 4 zero bytes || uint64 BE counter, output ciphertext || tag in base64', () => {
    expect(boxIv(0).toString('hex')).toBe('000000000000000000000000');
    expect(boxIv(258).toString('hex')).toBe('000000000000000000000102');
    expect(seal(kRP, 0, HI)).toBe(BOX_RP_0);
    expect(seal(kRP, 1, HI)).toBe(BOX_RP_1);
    expect(seal(kPR, 0, '{"t":"bye"}')).toBe(BOX_PR_0);
    expect(open(kRP, 0, BOX_RP_0)).toBe(HI);
    expect(open(kPR, 0, BOX_PR_0)).toBe('{"t":"bye"}');
  });

  test('a box opens only with its key and its counter (no replay, reordering or reflection)', () => {
    expect(open(kRP, 1, BOX_RP_0)).toBeUndefined();
    expect(open(kRP, 0, BOX_RP_1)).toBeUndefined();
    expect(open(kPR, 0, BOX_RP_0)).toBeUndefined();
  });

  test('any flipped bit, a cut, or a non-canonical spelling fails', () => {
    const bytes = Buffer.from(BOX_RP_0, 'base64');
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(open(kRP, 0, bad.toString('base64'))).toBeUndefined();
    }
    expect(open(kRP, 0, bytes.subarray(0, bytes.length - 1).toString('base64'))).toBeUndefined();
    expect(open(kRP, 0, bytes.subarray(0, 15).toString('base64'))).toBeUndefined();
    expect(open(kRP, 0, '')).toBeUndefined();
    expect(open(kRP, 0, `${BOX_RP_0}\n`)).toBeUndefined();
    expect(open(kRP, 0, ` ${BOX_RP_0}`)).toBeUndefined();
  });

  test('Channel: the requester’s and the peer’s ends fit together, in order only', () => {
    const requester = Channel.forRequester(key, sharedSecret(requesterEph, E_PUB_P) as Buffer, NONCE_R, NONCE_P);
    const peer = Channel.forPeer(key, sharedSecret(peerEph, E_PUB_R) as Buffer, NONCE_R, NONCE_P);
    const first = requester.seal(HI);
    expect(first).toBe(BOX_RP_0);
    const second = requester.seal('two');
    expect(peer.open(second)).toBeUndefined(); // reordered
    expect(peer.open(first)).toBe(HI);
    expect(peer.open(first)).toBeUndefined(); // replayed
    expect(peer.open(second)).toBe('two');
    expect(requester.open(peer.seal('{"t":"bye"}'))).toBe('{"t":"bye"}');
    // A box sent back to its sender (reflection) does not open.
    expect(requester.open(requester.seal('echo'))).toBeUndefined();
  });
});
