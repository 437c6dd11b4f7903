// The cryptography of the peer protocol (P2P-2, P2P-3). Pure: no sockets, no clock; randomness
// only in newNonce() and newEphemeral(). docs/PROTOCOL.md ("Private chats and the peer protocol")
// is the spec.
//
//   K      = HKDF-SHA256(ikm = token bytes, salt = "chat-p2p-v2", info = "key", 32 bytes)
//   ePubR, ePubP: fresh X25519 public keys, one per side and handshake (raw 32 bytes, as hex)
//   macR   = HMAC-SHA256(K, "hello\n<requester>\n<peer>\n<nonceR>\n<ePubR>")                              (hex)
//   macP   = HMAC-SHA256(K, "welcome\n<requester>\n<peer>\n<nonceR>\n<nonceP>\n<ePubR>\n<ePubP>")    (hex)
//   shared = X25519(own ephemeral private key, the other side's ePub); all zero is refused
//   kRP    = HKDF-SHA256(ikm = K || shared, salt = nonceR || nonceP, info = "requester->peer", 32 bytes)
//   kPR    = HKDF-SHA256(ikm = K || shared, salt = nonceR || nonceP, info = "peer->requester", 32 bytes)
//   box    = base64(AES-256-GCM(key, iv = 4 zero bytes || uint64 BE counter, payload) || tag)
//
// The token never leaves this module in any form but K, and K never goes on the wire. The token
// authenticates (the MACs cover both ephemeral keys); the X25519 secret gives forward secrecy: K
// alone, learnt later, does not open a recorded chat.

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';

export const KDF_SALT = 'chat-p2p-v2';
/** Bytes of a handshake nonce (sent as 32 lowercase hex digits). */
export const NONCE_BYTES = 16;
/** Bytes of the GCM authentication tag appended to every box. */
export const TAG_BYTES = 16;
const IV_BYTES = 12;

const TOKEN = /^[0-9a-f]{32}$/i;
const NONCE = /^[0-9a-f]{32}$/;
const MAC = /^[0-9a-f]{64}$/;
const EPHEMERAL = /^[0-9a-f]{64}$/;
/** Bytes of an X25519 key or shared secret. */
export const X25519_BYTES = 32;
// DER framing of a raw X25519 key: SubjectPublicKeyInfo and PKCS#8 (RFC 8410), each followed by
// the 32 raw bytes. Fixed for this algorithm, so raw bytes go in and come out by concatenation.
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

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

/** macR: proves the requester knows the token, bound to both names, its nonce and its ephemeral key. */
export function helloMac(key: Uint8Array, requester: string, peer: string, nonceR: string, ePubR: string): string {
  return hmac(key, ['hello', requester, peer, nonceR, ePubR]);
}

/** macP: proves the peer knows the token, bound to both names, both nonces and both ephemeral keys. */
export function welcomeMac(key: Uint8Array, requester: string, peer: string, nonceR: string, nonceP: string, ePubR: string, ePubP: string): string {
  return hmac(key, ['welcome', requester, peer, nonceR, nonceP, ePubR, ePubP]);
}

/** Compares a received MAC (hex) with the expected one in constant time. */
export function macMatches(received: string, expected: string): boolean {
  if (!MAC.test(received) || !MAC.test(expected)) return false;
  return timingSafeEqual(Buffer.from(received, 'hex'), Buffer.from(expected, 'hex'));
}

/**
 * One side's ephemeral X25519 key pair for one handshake. Drop it (and every reference to it) as
 * soon as the session keys are derived: it is what a recorded chat could be opened with.
 */
export interface Ephemeral {
  readonly privateKey: KeyObject;
  /** The raw 32-byte public key, as 64 lowercase hex digits: what goes on the wire. */
  readonly publicKey: string;
}

/** The raw 32 bytes of an X25519 public key, as lowercase hex. */
function rawPublic(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  if (der.length !== SPKI_PREFIX.length + X25519_BYTES || !der.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX)) {
    throw new Error('unexpected X25519 public key encoding');
  }
  return der.subarray(SPKI_PREFIX.length).toString('hex');
}

/** A fresh ephemeral key pair. */
export function newEphemeral(): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawPublic(publicKey) };
}

/** The key pair of a given raw private key (64 hex digits): for test vectors only. */
export function ephemeralFromPrivate(privateHex: string): Ephemeral {
  if (!EPHEMERAL.test(privateHex)) throw new TypeError('an X25519 private key is 64 lowercase hex digits');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(privateHex, 'hex')]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: rawPublic(createPublicKey(privateKey)) };
}

/** True for an ephemeral public key as it travels: 64 lowercase hex digits. */
export function isEphemeralKey(publicHex: string): boolean {
  return EPHEMERAL.test(publicHex);
}

/**
 * X25519(own private key, the other side's public key). Undefined for a malformed key, and for
 * one of small order, whose shared secret is all zero (it would leave the keys to K alone).
 */
export function sharedSecret(own: Ephemeral, otherPublicHex: string): Buffer | undefined {
  if (!EPHEMERAL.test(otherPublicHex)) return undefined;
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(otherPublicHex, 'hex')]), format: 'der', type: 'spki' });
    // OpenSSL and BoringSSL already fail on an all-zero result; the check below does not rely on it.
    shared = diffieHellman({ privateKey: own.privateKey, publicKey });
  } catch {
    return undefined;
  }
  if (shared.length !== X25519_BYTES || shared.every((b) => b === 0)) return undefined;
  return shared;
}

export interface SessionKeys {
  /** Seals what the requester sends and opens what the peer receives. */
  requesterToPeer: Buffer;
  /** Seals what the peer sends and opens what the requester receives. */
  peerToRequester: Buffer;
}

/** The two direction keys of one chat, from K, the X25519 secret and both nonces. Throws on malformed input. */
export function sessionKeys(key: Uint8Array, shared: Uint8Array, nonceR: string, nonceP: string): SessionKeys {
  if (!NONCE.test(nonceR) || !NONCE.test(nonceP)) throw new TypeError('a nonce is 32 lowercase hex digits');
  if (shared.length !== X25519_BYTES) throw new TypeError('a shared secret is 32 bytes');
  const ikm = Buffer.concat([key, shared]);
  const salt = Buffer.concat([Buffer.from(nonceR, 'hex'), Buffer.from(nonceP, 'hex')]);
  return {
    requesterToPeer: hkdf(ikm, salt, 'requester->peer'),
    peerToRequester: hkdf(ikm, salt, 'peer->requester'),
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

  static forRequester(key: Uint8Array, shared: Uint8Array, nonceR: string, nonceP: string): Channel {
    const keys = sessionKeys(key, shared, nonceR, nonceP);
    return new Channel(keys.requesterToPeer, keys.peerToRequester);
  }

  static forPeer(key: Uint8Array, shared: Uint8Array, nonceR: string, nonceP: string): Channel {
    const keys = sessionKeys(key, shared, nonceR, nonceP);
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
