// The peer protocol's cryptography (P2P-2, P2P-3), against known answers. The expected values were
// computed by a separate implementation written from docs/PROTOCOL.md (Python: hmac, hashlib,
// cryptography's AESGCM), so the spec, not just this code, is what is checked.

import { describe, expect, test } from 'bun:test';
import { boxIv, Channel, helloMac, isToken, macMatches, newNonce, open, seal, sessionKeys, tokenKey, welcomeMac } from '../../src/p2p/peer-crypto.ts';

const TOKEN = '0123456789abcdef0123456789abcdef';
const NONCE_R = '00112233445566778899aabbccddeeff';
const NONCE_P = 'ffeeddccbbaa99887766554433221100';

const K = 'c65cb59b1bf1effe41e03bf949e7f82af173998b6cc1b12bf6cce93c241a9d9d';
const MAC_R = 'd38e6d1ccf4e71fc032bc9a50c28187df3f0952efc013386d10ab62f83ef563d';
const MAC_P = '860387e939c79d4fcd1da39c922b51ce37da14b7c8dccb063906992cc4c6eb91';
const K_RP = 'dd2d066966821be8cbc918631e11b2db1f6ecb65b6a439cbfaefc44441718ed6';
const K_PR = 'ac8dc2fd3a34b019378e04ccb6c5ef0beafce98312fdf71ec4bd674a4c74d7a7';
const HI = '{"t":"msg","text":"hi"}';
const BOX_RP_0 = 'REJpJxzTv4q1VUhVz4rgozRWwY3tmCy9T9BMjCyk5LAfbpqWDlac';
const BOX_RP_1 = 'XQ2TU93XrhlvxHPX42v3AiTWMPQk+qTD7fjzE3lZzaT5iiBXPPEM';
const BOX_PR_0 = 'iuK2wTl5nGR6f+bz+ERo9l4WvbAjLDti8yVH';

const key = tokenKey(TOKEN);

describe('key derivation and MACs (P2P-2): known answers', () => {
  test('K = HKDF-SHA256(token bytes, "chat-p2p-v1", "key")', () => {
    expect(key.toString('hex')).toBe(K);
    // Hex case does not matter: it is the token's bytes that count.
    expect(tokenKey(TOKEN.toUpperCase()).toString('hex')).toBe(K);
  });

  test('macR binds requester, peer and nonceR; macP binds both nonces too', () => {
    expect(helloMac(key, 'hans', 'yoda', NONCE_R)).toBe(MAC_R);
    expect(welcomeMac(key, 'hans', 'yoda', NONCE_R, NONCE_P)).toBe(MAC_P);
    expect(helloMac(key, 'vader', 'yoda', NONCE_R)).not.toBe(MAC_R);
    expect(helloMac(key, 'hans', 'leia', NONCE_R)).not.toBe(MAC_R);
    expect(helloMac(tokenKey('f'.repeat(32)), 'hans', 'yoda', NONCE_R)).not.toBe(MAC_R);
    // A welcome from another session (another nonceR) is worthless for this one.
    expect(welcomeMac(key, 'hans', 'yoda', NONCE_P, NONCE_P)).not.toBe(MAC_P);
  });

  test('session keys: one per direction, from K and both nonces', () => {
    const keys = sessionKeys(key, NONCE_R, NONCE_P);
    expect(keys.requesterToPeer.toString('hex')).toBe(K_RP);
    expect(keys.peerToRequester.toString('hex')).toBe(K_PR);
    expect(sessionKeys(key, NONCE_R, NONCE_R).requesterToPeer.toString('hex')).not.toBe(K_RP);
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
    expect(() => sessionKeys(key, 'x', NONCE_P)).toThrow();
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
    const requester = Channel.forRequester(key, NONCE_R, NONCE_P);
    const peer = Channel.forPeer(key, NONCE_R, NONCE_P);
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
