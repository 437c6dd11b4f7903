#!/usr/bin/env python3
# An independent implementation of the peer protocol's cryptography, written from
# docs/PROTOCOL.md ("The peer protocol"), that prints the known answers used in
# tests/p2p/peer-crypto.test.ts and the doc's test vector. Needs Python's `cryptography` package:
#   python3 tests/p2p/peer-crypto-vectors.py
import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN = "0123456789abcdef0123456789abcdef"
NONCE_R = "00112233445566778899aabbccddeeff"
NONCE_P = "ffeeddccbbaa99887766554433221100"
# The ephemeral private keys are RFC 7748's (section 6.1) Alice (requester) and Bob (peer).
E_PRIV_R = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
E_PRIV_P = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
REQUESTER, PEER = "hans", "yoda"


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def mac(key: bytes, *fields: str) -> str:
    return hmac.new(key, "\n".join(fields).encode(), hashlib.sha256).hexdigest()


def raw_public(priv_hex: str) -> str:
    pub = X25519PrivateKey.from_private_bytes(bytes.fromhex(priv_hex)).public_key()
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def x25519(priv_hex: str, pub_hex: str) -> bytes:
    priv = X25519PrivateKey.from_private_bytes(bytes.fromhex(priv_hex))
    return priv.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex)))


def seal(key: bytes, counter: int, text: str) -> str:
    iv = bytes(4) + counter.to_bytes(8, "big")
    return base64.b64encode(AESGCM(key).encrypt(iv, text.encode(), None)).decode()


K = hkdf(bytes.fromhex(TOKEN), b"chat-p2p-v2", b"key")
E_PUB_R = raw_public(E_PRIV_R)
E_PUB_P = raw_public(E_PRIV_P)
shared = x25519(E_PRIV_R, E_PUB_P)
assert shared == x25519(E_PRIV_P, E_PUB_R)
mac_r = mac(K, "hello", REQUESTER, PEER, NONCE_R, E_PUB_R)
mac_p = mac(K, "welcome", REQUESTER, PEER, NONCE_R, NONCE_P, E_PUB_R, E_PUB_P)
salt = bytes.fromhex(NONCE_R) + bytes.fromhex(NONCE_P)
k_rp = hkdf(K + shared, salt, b"requester->peer")
k_pr = hkdf(K + shared, salt, b"peer->requester")
HI = '{"t":"msg","text":"hi"}'
BYE = '{"t":"bye"}'

print(f"token    {TOKEN}")
print(f"nonceR   {NONCE_R}")
print(f"nonceP   {NONCE_P}")
print(f"ePrivR   {E_PRIV_R}")
print(f"ePrivP   {E_PRIV_P}")
print(f"K        {K.hex()}")
print(f"ePubR    {E_PUB_R}")
print(f"ePubP    {E_PUB_P}")
print(f"shared   {shared.hex()}")
print(f"macR     {mac_r}")
print(f"macP     {mac_p}")
print(f"kRP      {k_rp.hex()}")
print(f"kPR      {k_pr.hex()}")
print(f"hans's box 0, {HI}   {seal(k_rp, 0, HI)}")
print(f"hans's box 1, {HI}   {seal(k_rp, 1, HI)}")
print(f"yoda's box 0, {BYE}               {seal(k_pr, 0, BYE)}")
# What K alone gives (no shared secret, or an all-zero one): not the session keys.
print(f"kRP from K and 32 zero bytes   {hkdf(K + bytes(32), salt, b'requester->peer').hex()}")
