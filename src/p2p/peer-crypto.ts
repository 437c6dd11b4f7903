// The cryptography of the peer protocol (P2P-2, P2P-3). Pure: no sockets, no clock; randomness
// only in newNonce(). docs/PROTOCOL.md ("Private chats and the peer protocol") is the spec.
//
//   K    = HKDF-SHA256(ikm = token bytes, salt = "chat-p2p-v1", info = "key", 32 bytes)
//   macR = HMAC-SHA256(K, "hello\n<requester>\n<peer>\n<nonceR>")              (hex)
//   macP = HMAC-SHA256(K, "welcome\n<requester>\n<peer>\n<nonceR>\n<nonceP>")  (hex)
//   kRP  = HKDF-SHA256(ikm = K, salt = nonceR || nonceP, info = "requester->peer", 32 bytes)
//   kPR  = HKDF-SHA256(ikm = K, salt = nonceR || nonceP, info = "peer->requester", 32 bytes)
//   box  = base64(AES-256-GCM(key, iv = 4 zero bytes || uint64 BE counter, payload) || tag)
//
// The token never leaves this module in any form but K, and K never goes on the wire.

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const KDF_SALT = 'chat-p2p-v1';
/** Bytes of a handshake nonce (sent as 32 lowercase hex digits). */
export const NONCE_BYTES = 16;
/** Bytes of the GCM authentication tag appended to every box. */
export const TAG_BYTES = 16;
const IV_BYTES = 12;

const TOKEN = /^[0-9a-f]{32}$/i;
const NONCE = /^[0-9a-f]{32}$/;
const MAC = /^[0-9a-f]{64}$/;

/** True for a token as the server hands them out: 128 bits, 32 hex digits. */
export function isToken(token: string): boolean {
  return TOKEN.test(token);
}

function hkdf(ikm: Uint8Array, salt: Uint8Array | string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

/** K, the key both sides derive from the token. Throws on a malformed token. */
export function tokenKey(token: string): Buffer {
  if (!isToken(token)) throw new TypeError('a token is 32 hex digits');
  return hkdf(Buffer.from(token, 'hex'), KDF_SALT, 'key');
}

/** A fresh handshake nonce: 16 random bytes, lowercase hex. */
export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

function hmac(key: Uint8Array, fields: readonly string[]): string {
  return createHmac('sha256', key).update(fields.join('\n'), 'utf8').digest('hex');
}

/** macR: proves the requester knows the token, bound to both names and its nonce. */
export function helloMac(key: Uint8Array, requester: string, peer: string, nonceR: string): string {
  return hmac(key, ['hello', requester, peer, nonceR]);
}

/** macP: proves the peer knows the token, bound to both names and both nonces. */
export function welcomeMac(key: Uint8Array, requester: string, peer: string, nonceR: string, nonceP: string): string {
  return hmac(key, ['welcome', requester, peer, nonceR, nonceP]);
}

/** Compares a received MAC (hex) with the expected one in constant time. */
export function macMatches(received: string, expected: string): boolean {
  if (!MAC.test(received) || !MAC.test(expected)) return false;
  return timingSafeEqual(Buffer.from(received, 'hex'), Buffer.from(expected, 'hex'));
}

export interface SessionKeys {
  /** Seals what the requester sends and opens what the peer receives. */
  requesterToPeer: Buffer;
  /** Seals what the peer sends and opens what the requester receives. */
  peerToRequester: Buffer;
}

/** The two direction keys of one chat. Throws on malformed nonces. */
export function sessionKeys(key: Uint8Array, nonceR: string, nonceP: string): SessionKeys {
  if (!NONCE.test(nonceR) || !NONCE.test(nonceP)) throw new TypeError('a nonce is 32 lowercase hex digits');
  const salt = Buffer.concat([Buffer.from(nonceR, 'hex'), Buffer.from(nonceP, 'hex')]);
  return {
    requesterToPeer: hkdf(key, salt, 'requester->peer'),
    peerToRequester: hkdf(key, salt, 'peer->requester'),
  };
}

/** The IV of box number `counter` in one direction: 4 zero bytes, then the counter as uint64 big-endian. */
export function boxIv(counter: number): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError('box counter out of range');
  const iv = Buffer.alloc(IV_BYTES);
  iv.writeBigUInt64BE(BigInt(counter), 4);
  return iv;
}

/** Encrypts `plaintext` (UTF-8) as box number `counter`: base64 of ciphertext || tag. */
export function seal(key: Uint8Array, counter: number, plaintext: string): string {
  const cipher = createCipheriv('aes-256-gcm', key, boxIv(counter), { authTagLength: TAG_BYTES });
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return body.toString('base64');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decrypts box number `counter`; undefined when it is not canonical base64, too short, was sealed
 * with another key or counter, was altered in any way, or is not UTF-8.
 */
export function open(key: Uint8Array, counter: number, box: string): string | undefined {
  const body = Buffer.from(box, 'base64');
  // Buffer's decoder is lenient (it skips junk): only the one canonical spelling is accepted.
  if (body.length < TAG_BYTES || body.toString('base64') !== box) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, boxIv(counter), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    return utf8.decode(plain);
  } catch {
    return undefined;
  }
}

/**
 * One side of an open chat: seals outgoing payloads and opens incoming ones, each direction with
 * its own key and its own counter from 0. A box that is replayed, dropped, reordered or altered
 * fails to open (the caller then closes the connection).
 */
export class Channel {
  private sent = 0;
  private received = 0;

  private constructor(
    private readonly sendKey: Buffer,
    private readonly receiveKey: Buffer,
  ) {}

  static forRequester(key: Uint8Array, nonceR: string, nonceP: string): Channel {
    const keys = sessionKeys(key, nonceR, nonceP);
    return new Channel(keys.requesterToPeer, keys.peerToRequester);
  }

  static forPeer(key: Uint8Array, nonceR: string, nonceP: string): Channel {
    const keys = sessionKeys(key, nonceR, nonceP);
    return new Channel(keys.peerToRequester, keys.requesterToPeer);
  }

  seal(plaintext: string): string {
    return seal(this.sendKey, this.sent++, plaintext);
  }

  /** The next incoming box's plaintext, or undefined (and the counter stays put). */
  open(box: string): string | undefined {
    const plain = open(this.receiveKey, this.received, box);
    if (plain !== undefined) this.received++;
    return plain;
  }
}
