"""The cryptography of transit keys, per key type, as Vault's transit engine does it.

- AEAD types (`aes128-gcm96`, `aes256-gcm96`, `chacha20-poly1305`): a 12-byte random nonce;
  ciphertext `nonce ‖ ct ‖ tag`. Derived keys: HKDF-SHA256 of the version's key with the context as
  `info` (no salt). Convergent keys (Vault's version 3): the nonce is the HMAC-SHA256 of the
  plaintext under 32 more derived bytes, so equal plaintexts and contexts give equal ciphertexts.
- RSA: RSA-OAEP with SHA-256 for encryption; PSS (salt `auto`: the largest when signing, detected
  when verifying; `hash`; or a number of bytes) or PKCS#1 v1.5 for signatures.
- ECDSA (P-256, P-384, P-521): signatures of the digest, ASN.1 DER or JWS (`r ‖ s`).
- ed25519: signatures of the input itself; derived keys are made from 32 HKDF bytes as seed.
- Every version also has an HMAC key (an `hmac` key's own key is its HMAC key).

Key material in memory is `Material`; `pack`/`unpack` give the bytes the keyring seals, which name
the key type so that material never opens as another type's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac as hmac_module
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from assay_vault.domain.keyring import RecordIntegrityFailed

NONCE_BYTES = 12
HMAC_KEY_BYTES = 32
ED25519_SEED_BYTES = 32
#: Go's PSS salt lengths "auto" and "hash".
SALT_LENGTH_AUTO = 0
SALT_LENGTH_HASH = -1
#: The format of packed material (`pack`).
MATERIAL_FORMAT = 1
#: Go's `base64.StdEncoding` alphabet (it skips line breaks, as below).
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


RSA_DECRYPTION_FAILED = "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error"


class CryptoError(Exception):
    """An operation that cannot be done with these inputs; the message is Vault's."""


@dataclass(frozen=True)
class KeyType:
    name: str
    encryption: bool = False
    signing: bool = False
    derivation: bool = False
    #: Bytes of a symmetric key (AEAD types), 0 otherwise.
    key_bytes: int = 0
    #: What Vault's key document names an asymmetric key's versions.
    public_name: str | None = None
    #: Whether signing hashes the input first (ECDSA and RSA, not ed25519).
    hashes_input: bool = False
    rsa_bits: int = 0
    curve: ec.EllipticCurve | None = None

    @property
    def aead(self) -> bool:
        return self.key_bytes > 0

    @property
    def asymmetric(self) -> bool:
        return self.public_name is not None


def _rsa_type(bits: int) -> KeyType:
    name = f"rsa-{bits}"
    return KeyType(name, encryption=True, signing=True, public_name=name, hashes_input=True, rsa_bits=bits)


TYPES: dict[str, KeyType] = {
    kind.name: kind
    for kind in (
        KeyType("aes128-gcm96", encryption=True, derivation=True, key_bytes=16),
        KeyType("aes256-gcm96", encryption=True, derivation=True, key_bytes=32),
        KeyType("chacha20-poly1305", encryption=True, derivation=True, key_bytes=32),
        KeyType("ecdsa-p256", signing=True, public_name="P-256", hashes_input=True, curve=ec.SECP256R1()),
        KeyType("ecdsa-p384", signing=True, public_name="P-384", hashes_input=True, curve=ec.SECP384R1()),
        KeyType("ecdsa-p521", signing=True, public_name="P-521", hashes_input=True, curve=ec.SECP521R1()),
        KeyType("ed25519", signing=True, derivation=True, public_name="ed25519"),
        _rsa_type(2048),
        _rsa_type(3072),
        _rsa_type(4096),
        KeyType("hmac"),
    )
}

#: Hash algorithms by Vault's names (`none`: none).
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha2-224": hashes.SHA224,
    "sha2-256": hashes.SHA256,
    "sha2-384": hashes.SHA384,
    "sha2-512": hashes.SHA512,
    "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256,
    "sha3-384": hashes.SHA3_384,
    "sha3-512": hashes.SHA3_512,
}
_HASHLIB_NAMES = {
    "sha1": "sha1",
    "sha2-224": "sha224",
    "sha2-256": "sha256",
    "sha2-384": "sha384",
    "sha2-512": "sha512",
    "sha3-224": "sha3_224",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
}


def digest(algorithm: str, data: bytes) -> bytes:
    return hashlib.new(_HASHLIB_NAMES[algorithm], data).digest()


def mac(algorithm: str, key: bytes, data: bytes) -> bytes:
    return hmac_module.new(key, data, _HASHLIB_NAMES[algorithm]).digest()


def decode_base64(text: str) -> bytes:
    """`text` as Go's `base64.StdEncoding` decodes it (padded, line breaks skipped); ValueError
    with Go's message ("illegal base64 data at input byte N") otherwise."""
    cleaned = text.replace("\r", "").replace("\n", "")
    match = _BASE64.match(cleaned)
    bad_at = match.end() if match else 0
    if bad_at < len(cleaned) or len(cleaned) % 4:
        raise ValueError(f"illegal base64 data at input byte {min(bad_at, len(cleaned) // 4 * 4)}")
    try:
        return base64.b64decode(cleaned, validate=True)
    except binascii.Error:
        raise ValueError(f"illegal base64 data at input byte {bad_at}") from None


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- material ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Material:
    """One version's key: `key` (symmetric or hmac bytes; ed25519 seed ‖ public key; ECDSA and
    RSA: PKCS#8 DER) and its HMAC key."""

    type: KeyType
    key: bytes
    hmac_key: bytes

    # ---- symmetric -------------------------------------------------------------------------

    def derived(self, context: bytes, length: int) -> bytes:
        """HKDF-SHA256 of the key with `context` as info (Vault's `hkdf_sha256`)."""
        if not context:
            raise CryptoError(
                "missing 'context' for key derivation; the key was created using a derived key, which "
                "means additional, per-request information must be included in order to perform "
                "operations with the key"
            )
        return HKDF(hashes.SHA256(), length, salt=None, info=context).derive(self.key)

    def encrypt(
        self, plaintext: bytes, *, derived: bool, convergent: bool, context: bytes, aad: bytes | None
    ) -> bytes:
        if self.type.rsa_bits:
            try:
                return self._rsa().public_key().encrypt(plaintext, _oaep())
            except ValueError:
                raise CryptoError(
                    "failed to RSA encrypt the plaintext: crypto/rsa: message too long for RSA key size"
                ) from None
        size = self.type.key_bytes
        key = self.derived(context, size + (HMAC_KEY_BYTES if convergent else 0)) if derived else self.key
        if convergent:
            nonce = hmac_module.new(key[size:], plaintext, "sha256").digest()[:NONCE_BYTES]
        else:
            nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead(key[:size]).encrypt(nonce, plaintext, aad)

    def decrypt(self, ciphertext: bytes, *, derived: bool, context: bytes, aad: bytes | None) -> bytes:
        if self.type.rsa_bits:
            try:
                return self._rsa().decrypt(ciphertext, _oaep())
            except ValueError:
                raise CryptoError(RSA_DECRYPTION_FAILED) from None
        size = self.type.key_bytes
        key = self.derived(context, size) if derived else self.key
        if len(ciphertext) < NONCE_BYTES:
            raise CryptoError("invalid ciphertext length")
        try:
            return self._aead(key).decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)
        except InvalidTag:
            raise CryptoError("cipher: message authentication failed") from None

    def _aead(self, key: bytes) -> AESGCM | ChaCha20Poly1305:
        return ChaCha20Poly1305(key) if self.type.name == "chacha20-poly1305" else AESGCM(key)

    # ---- asymmetric ------------------------------------------------------------------------

    def _rsa(self) -> rsa.RSAPrivateKey:
        key = serialization.load_der_private_key(self.key, None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def _ecdsa(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_der_private_key(self.key, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def _ed25519(self, derived: bool, context: bytes) -> ed25519.Ed25519PrivateKey:
        seed = self.derived(context, ED25519_SEED_BYTES) if derived else self.key[:ED25519_SEED_BYTES]
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed)

    def public_key(self, *, derived: bool = False, context: bytes = b"") -> str:
        """The public key as Vault shows it: PEM, or base64 for ed25519."""
        if self.type.name == "ed25519":
            public = self._ed25519(derived, context).public_key()
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return encode_base64(raw)
        private = self._rsa() if self.type.rsa_bits else self._ecdsa()
        pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()

    def sign(self, data: bytes, options: Signing, *, derived: bool, context: bytes) -> bytes:
        """A signature of `data` (the digest, for types that hash their input)."""
        if self.type.curve is not None:
            r_and_s = self._ecdsa().sign(data, ec.ECDSA(options.prehashed_as(data)))
            if options.marshaling == "jws":
                r, s = utils.decode_dss_signature(r_and_s)
                size = (self.type.curve.key_size + 7) // 8
                return r.to_bytes(size, "big") + s.to_bytes(size, "big")
            return r_and_s
        if self.type.rsa_bits:
            key = self._rsa()
            if options.hash_algorithm == "none":
                return key.sign(data, padding.PKCS1v15(), utils.NoDigestInfo())
            return key.sign(data, options.rsa_padding(key.key_size, signing=True), options.prehashed_as(data))
        return self._ed25519(derived, context).sign(data)

    def verify(
        self, data: bytes, signature: bytes, options: Signing, *, derived: bool, context: bytes
    ) -> bool:
        """Whether `signature` signs `data`; `CryptoError` for an ECDSA signature that does not parse."""
        try:
            if self.type.curve is not None:
                if options.marshaling == "jws":
                    half = len(signature) // 2
                    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
                    signature = utils.encode_dss_signature(r, s)
                else:
                    _check_der_signature(signature)
                self._ecdsa().public_key().verify(signature, data, ec.ECDSA(options.prehashed_as(data)))
            elif self.type.rsa_bits:
                public = self._rsa().public_key()
                if options.hash_algorithm == "none":
                    # PKCS#1 v1.5 of the bare input (no DigestInfo), as Go's SignPKCS1v15 with hash 0.
                    signed = public.recover_data_from_signature(signature, padding.PKCS1v15(), None)
                    return hmac_module.compare_digest(signed, data)
                scheme = options.rsa_padding(public.key_size, signing=False)
                public.verify(signature, data, scheme, options.prehashed_as(data))
            else:
                self._ed25519(derived, context).public_key().verify(signature, data)
        except InvalidSignature:
            return False
        return True


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _check_der_signature(signature: bytes) -> None:
    try:
        utils.decode_dss_signature(signature)
    except ValueError:
        raise CryptoError("supplied signature is invalid") from None


@dataclass(frozen=True)
class Signing:
    """Checked signing options: hash algorithm, RSA padding, ECDSA marshaling."""

    hash_algorithm: str
    prehashed: bool
    #: `pss` or `pkcs1v15`.
    rsa_scheme: str
    #: `asn1` or `jws`.
    marshaling: str
    #: PSS salt bytes, as Go's: 0 the largest (signing) or any (verifying), -1 the digest's length.
    salt_length: int

    def prehashed_as(self, data: bytes) -> utils.Prehashed:
        """What `data` is a digest of: the named algorithm (with `none`, the one of its length)."""
        algorithm = self._hash_for(data)
        if len(data) != algorithm.digest_size:
            raise CryptoError(
                f"the input must be the {algorithm.digest_size}-byte digest of {self.hash_algorithm}"
            )
        return utils.Prehashed(algorithm)

    def _hash_for(self, data: bytes) -> hashes.HashAlgorithm:
        if self.hash_algorithm != "none":
            return HASHES[self.hash_algorithm]()
        for make in HASHES.values():
            if make().digest_size == len(data):
                return make()
        raise CryptoError("the input is not a digest of any supported hash algorithm")

    def rsa_padding(self, key_bits: int, *, signing: bool) -> padding.AsymmetricPadding:
        if self.rsa_scheme == "pkcs1v15":
            return padding.PKCS1v15()
        algorithm = HASHES[self.hash_algorithm]()
        mgf = padding.MGF1(algorithm)
        if self.salt_length == SALT_LENGTH_HASH:
            return padding.PSS(mgf=mgf, salt_length=padding.PSS.DIGEST_LENGTH)
        if self.salt_length == SALT_LENGTH_AUTO:
            return padding.PSS(mgf=mgf, salt_length=padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO)
        # Go's bounds: from the digest's length (-1) up to what the modulus leaves.
        if self.salt_length > (key_bits + 6) // 8 - 2 - algorithm.digest_size:
            raise CryptoError(f"requested salt length {self.salt_length} is invalid")
        return padding.PSS(mgf=mgf, salt_length=self.salt_length)


def generate(kind: KeyType, key_size: int = 0) -> Material:
    """A new version's key (`key_size`: bytes of an hmac key)."""
    hmac_key = os.urandom(HMAC_KEY_BYTES)
    if kind.aead:
        return Material(kind, os.urandom(kind.key_bytes), hmac_key)
    if kind.name == "hmac":
        key = os.urandom(key_size)
        return Material(kind, key, key)
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if kind.name == "ed25519":
        signer = ed25519.Ed25519PrivateKey.generate()
        seed = signer.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = signer.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Material(kind, seed + public, hmac_key)
    if kind.curve is not None:
        private = ec.generate_private_key(kind.curve)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=kind.rsa_bits)
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Material(kind, der, hmac_key)


def pack(material: Material) -> bytes:
    """The bytes the keyring seals: format, key type, key, HMAC key (each length-prefixed)."""
    parts = (material.type.name.encode(), material.key, material.hmac_key)
    return bytes([MATERIAL_FORMAT]) + b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def unpack(packed: bytes, expected_type: str) -> Material:
    """Material from `pack`; `RecordIntegrityFailed` when it is not of `expected_type`."""
    parts: list[bytes] = []
    at = 1
    while at < len(packed) and len(parts) < 3:
        size = int.from_bytes(packed[at : at + 4], "big")
        parts.append(packed[at + 4 : at + 4 + size])
        at += 4 + size
    if packed[:1] != bytes([MATERIAL_FORMAT]) or len(parts) != 3 or at != len(packed):
        raise RecordIntegrityFailed("the stored transit key is not in a known format")
    if parts[0].decode(errors="replace") != expected_type or expected_type not in TYPES:
        raise RecordIntegrityFailed("the stored transit key is not of its key's type")
    return Material(TYPES[expected_type], parts[1], parts[2])


def material_is_valid(material: Material, key_size: int) -> bool:
    """Whether `material` is a key of its type (`key_size`: an hmac key's bytes), as a restored
    backup must hold."""
    kind = material.type
    if kind.name == "hmac":
        return len(material.key) == key_size and material.hmac_key == material.key
    if len(material.hmac_key) != HMAC_KEY_BYTES:
        return False
    if kind.aead:
        return len(material.key) == kind.key_bytes
    if kind.name == "ed25519":
        seed, public = material.key[:ED25519_SEED_BYTES], material.key[ED25519_SEED_BYTES:]
        if len(seed) != ED25519_SEED_BYTES:
            return False
        signer = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        return (
            signer.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            == public
        )
    try:
        private = serialization.load_der_private_key(material.key, None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    if kind.curve is not None:
        return isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == kind.curve.name
    return isinstance(private, rsa.RSAPrivateKey) and private.key_size == kind.rsa_bits
