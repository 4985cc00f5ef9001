//! Sealing of TOTP secrets at rest: XChaCha20-Poly1305 under a keyring.
//!
//! The blob and AAD layouts, the nonce choice and the rotation procedure are documented in
//! `docs/sealing.md`; the constants below are that document in code.

use core::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// Format version of [`SealedSecret`] blobs written by this crate.
const VERSION: u8 = 1;
/// Version byte and key id: the header that is also the start of the AAD.
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Header, nonce: where the ciphertext starts.
const CIPHERTEXT_START: usize = HEADER_LEN + NONCE_LEN;
/// The shortest blob: header, nonce, a 128-bit secret and the tag.
const MIN_BLOB_LEN: usize = CIPHERTEXT_START + Secret::MIN_BITS / 8 + TAG_LEN;
/// The longest blob: a 2048-bit secret.
const MAX_BLOB_LEN: usize = CIPHERTEXT_START + Secret::MAX_BITS / 8 + TAG_LEN;

/// A 256-bit XChaCha20-Poly1305 key for sealing secrets.
///
/// Zeroized on drop, redacted in `Debug`, and without `Clone`, `Display` or `PartialEq`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SealingKey {
    bytes: [u8; SealingKey::LEN],
}

impl SealingKey {
    /// Key length in bytes: 32.
    pub const LEN: usize = 32;

    /// Takes a 32-byte key.
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes = <[u8; Self::LEN]>::try_from(bytes).map_err(|_| Error::InvalidKeyLength {
            bytes: bytes.len(),
            expected: Self::LEN,
        })?;
        Ok(Self { bytes })
    }

    /// Generates a key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; Self::LEN];
        getrandom::fill(&mut bytes).map_err(|_| Error::Rng)?;
        Ok(Self { bytes })
    }

    /// Generates a key from the given cryptographic RNG.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; Self::LEN];
        rng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.bytes).into())
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey").finish_non_exhaustive()
    }
}

/// A sealed secret: `[version u8 = 1][key id u32 BE][nonce 24][ciphertext + tag 16]`.
///
/// Safe to store: without a key of the [`Keyring`] it reveals only its key id and length.
#[derive(Clone)]
pub struct SealedSecret {
    bytes: Vec<u8>,
    key_id: u32,
}

impl SealedSecret {
    /// Takes a blob read back from a store, checking its structure only (version, length);
    /// whether it is authentic is decided by [`Keyring::open`].
    ///
    /// # Errors
    /// [`Error::MalformedSealedSecret`] for an unknown version or a length no sealed secret
    /// has.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        match bytes.as_slice() {
            [VERSION, a, b, c, d, ..] if (MIN_BLOB_LEN..=MAX_BLOB_LEN).contains(&bytes.len()) => {
                let key_id = u32::from_be_bytes([*a, *b, *c, *d]);
                Ok(Self { bytes, key_id })
            }
            _ => Err(Error::MalformedSealedSecret),
        }
    }

    /// The blob, to store.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The blob, to store.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The id of the key the secret was sealed with.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The blob cut into its fields; `None` only if it were shorter than
    /// [`from_bytes`](Self::from_bytes) allows.
    fn parts(&self) -> Option<Parts<'_>> {
        let (header, rest) = self.bytes.split_at_checked(HEADER_LEN)?;
        let (nonce, rest) = rest.split_at_checked(NONCE_LEN)?;
        let (ciphertext, tag) = rest.split_at_checked(rest.len().checked_sub(TAG_LEN)?)?;
        Some(Parts {
            header,
            nonce: nonce.try_into().ok()?,
            ciphertext,
            tag,
        })
    }
}

/// The fields of a blob.
struct Parts<'a> {
    header: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
    tag: &'a [u8],
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Sealing keys by id: seals with the current key, opens with any.
///
/// ```
/// use mfa_core::{Keyring, Secret, SealingKey};
///
/// let keyring = Keyring::new(1, SealingKey::generate()?);
/// let secret = Secret::generate()?;
/// let sealed = keyring.seal(&secret, "user-42", "totp-1")?;
/// let opened = keyring.open(&sealed, "user-42", "totp-1")?;
/// assert_eq!(opened.expose_bytes(), secret.expose_bytes());
/// // Bound to user and factor: a blob copied to another row does not open.
/// assert!(keyring.open(&sealed, "user-43", "totp-1").is_err());
///
/// // Rotation: add key 2 as current; old blobs still open and report that they need resealing.
/// let keyring = keyring.with_current(2, SealingKey::generate()?)?;
/// assert!(keyring.needs_reseal(&sealed));
/// let resealed = keyring.reseal(&sealed, "user-42", "totp-1")?;
/// assert_eq!(resealed.key_id(), 2);
/// # Ok::<(), mfa_core::Error>(())
/// ```
pub struct Keyring {
    current: u32,
    keys: Vec<(u32, SealingKey)>,
}

impl Keyring {
    /// A keyring with one key, which is current.
    #[must_use]
    pub fn new(key_id: u32, key: SealingKey) -> Self {
        Self {
            current: key_id,
            keys: vec![(key_id, key)],
        }
    }

    /// Adds an older key that can still open blobs but never seals.
    ///
    /// # Errors
    /// [`Error::InvalidKeyring`] if a key with this id is already present.
    pub fn with_key(mut self, key_id: u32, key: SealingKey) -> Result<Self> {
        if self.key(key_id).is_some() {
            return Err(Error::InvalidKeyring);
        }
        self.keys.push((key_id, key));
        Ok(self)
    }

    /// Adds a key and makes it current: the rotation step. The previous keys stay to open
    /// older blobs until they are resealed.
    ///
    /// # Errors
    /// [`Error::InvalidKeyring`] if a key with this id is already present.
    pub fn with_current(self, key_id: u32, key: SealingKey) -> Result<Self> {
        let mut keyring = self.with_key(key_id, key)?;
        keyring.current = key_id;
        Ok(keyring)
    }

    /// The id of the key new blobs are sealed with.
    #[must_use]
    pub fn current_key_id(&self) -> u32 {
        self.current
    }

    fn key(&self, key_id: u32) -> Option<&SealingKey> {
        self.keys
            .iter()
            .find_map(|(id, key)| (*id == key_id).then_some(key))
    }

    /// Seals `secret` for `user` and `factor` under the current key, with a random nonce
    /// from the operating system's RNG.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn seal(&self, secret: &Secret, user: &str, factor: &str) -> Result<SealedSecret> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| Error::Rng)?;
        Ok(self.seal_with_nonce(nonce, secret, user, factor))
    }

    /// Seals `secret` for `user` and `factor` under the current key, with a random nonce
    /// from the given RNG.
    pub fn seal_with_rng<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        secret: &Secret,
        user: &str,
        factor: &str,
    ) -> SealedSecret {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        self.seal_with_nonce(nonce, secret, user, factor)
    }

    fn seal_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        secret: &Secret,
        user: &str,
        factor: &str,
    ) -> SealedSecret {
        let header = header(self.current);
        let mut bytes = Vec::with_capacity(MAX_BLOB_LEN);
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&nonce);
        let key = self.key(self.current);
        let sealed = key.and_then(|key| {
            encrypt(
                &key.cipher(),
                &nonce,
                &aad(&header, user, factor),
                secret.expose_bytes(),
            )
        });
        match sealed {
            Some(ciphertext_and_tag) => bytes.extend_from_slice(&ciphertext_and_tag),
            // Unreachable: the current key is always in the keyring, and a secret of at most
            // 256 bytes is far below XChaCha20-Poly1305's 256 GiB limit. Were it reached, the
            // blob would carry a zero ciphertext and tag and fail closed in `open`.
            None => bytes.resize(MIN_BLOB_LEN, 0),
        }
        SealedSecret {
            bytes,
            key_id: self.current,
        }
    }

    /// Opens a blob sealed for `user` and `factor` with any key of the keyring.
    ///
    /// # Errors
    /// [`Error::UnknownKeyId`] if the blob's key is not in the keyring, [`Error::SealOpen`] if
    /// the blob was tampered with or sealed for another user or factor,
    /// [`Error::MalformedSealedSecret`] if its content is not a secret.
    pub fn open(&self, sealed: &SealedSecret, user: &str, factor: &str) -> Result<Secret> {
        let key = self
            .key(sealed.key_id)
            .ok_or(Error::UnknownKeyId(sealed.key_id))?;
        let parts = sealed.parts().ok_or(Error::MalformedSealedSecret)?;
        let plaintext = decrypt(
            &key.cipher(),
            &parts.nonce,
            &aad(parts.header, user, factor),
            parts.ciphertext,
            parts.tag,
        )
        .ok_or(Error::SealOpen)?;
        Secret::from_bytes(&plaintext).map_err(|_| Error::MalformedSealedSecret)
    }

    /// Whether a blob was sealed under a key other than the current one (or in an older
    /// format) and should be resealed with [`Keyring::reseal`].
    #[must_use]
    pub fn needs_reseal(&self, sealed: &SealedSecret) -> bool {
        sealed.key_id != self.current || sealed.bytes.first() != Some(&VERSION)
    }

    /// Opens a blob and seals its secret again under the current key.
    ///
    /// # Errors
    /// As [`Keyring::open`] and [`Keyring::seal`].
    pub fn reseal(&self, sealed: &SealedSecret, user: &str, factor: &str) -> Result<SealedSecret> {
        self.seal(&self.open(sealed, user, factor)?, user, factor)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

fn header(key_id: u32) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = key_id.to_be_bytes();
    [VERSION, a, b, c, d]
}

/// AAD = header (version, key id) || u64be(len(user)) || user || u64be(len(factor)) || factor.
fn aad(header: &[u8], user: &str, factor: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(
        header
            .len()
            .saturating_add(16)
            .saturating_add(user.len())
            .saturating_add(factor.len()),
    );
    aad.extend_from_slice(header);
    for field in [user.as_bytes(), factor.as_bytes()] {
        // usize is at most 64 bits on every target this crate builds for.
        aad.extend_from_slice(&(field.len() as u64).to_be_bytes());
        aad.extend_from_slice(field);
    }
    aad
}

/// XChaCha20-Poly1305 encryption: ciphertext followed by the 16-byte tag.
fn encrypt(
    cipher: &XChaCha20Poly1305,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Option<Vec<u8>> {
    // Zeroizing: if encryption failed, the buffer would still hold the plaintext.
    let mut buffer = Zeroizing::new(plaintext.to_vec());
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(*nonce), aad, buffer.as_mut_slice().into())
        .ok()?;
    buffer.extend_from_slice(&tag);
    Some(core::mem::take(&mut *buffer))
}

/// XChaCha20-Poly1305 decryption; `None` unless the tag verifies.
fn decrypt(
    cipher: &XChaCha20Poly1305,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let tag = Tag::try_from(tag).ok()?;
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(
            &XNonce::from(*nonce),
            aad,
            buffer.as_mut_slice().into(),
            &tag,
        )
        .ok()?;
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn xchacha20poly1305_draft_irtf_cfrg_xchacha_a_3_1() {
        // draft-irtf-cfrg-xchacha-03, appendix A.3.1, through this module's encrypt/decrypt.
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you \
                          only one tip for the future, sunscreen would be it.";
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce: [u8; 24] = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
            .try_into()
            .unwrap();
        let expected_ciphertext = hex(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
             731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
             2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
             21f9664c97637da9768812f615c68b13b52e",
        );
        let expected_tag = hex("c0875924c1c7987947deafd8780acf49");

        let cipher = SealingKey::from_bytes(&key).unwrap().cipher();
        let sealed = encrypt(&cipher, &nonce, &aad, plaintext).unwrap();
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
        assert_eq!(ciphertext, expected_ciphertext.as_slice());
        assert_eq!(tag, expected_tag.as_slice());

        let opened = decrypt(&cipher, &nonce, &aad, ciphertext, tag).unwrap();
        assert_eq!(opened.as_slice(), plaintext.as_slice());
        assert!(decrypt(&cipher, &nonce, &aad[1..], ciphertext, tag).is_none());
    }

    #[test]
    fn blob_and_aad_layout_are_the_documented_ones() {
        let keyring = Keyring::new(0x0102_0304, SealingKey::from_bytes(&[9; 32]).unwrap());
        let secret = Secret::from_bytes(&[0x55; 20]).unwrap();
        let nonce = [0xa5; NONCE_LEN];
        let sealed = keyring.seal_with_nonce(nonce, &secret, "alice", "totp");
        let bytes = sealed.as_bytes();
        assert_eq!(bytes.len(), 1 + 4 + 24 + 20 + 16);
        assert_eq!(&bytes[..5], &[1, 1, 2, 3, 4]);
        assert_eq!(&bytes[5..29], &nonce);
        assert_eq!(sealed.key_id(), 0x0102_0304);

        // Recompute with the AAD spelled out byte by byte as docs/sealing.md gives it.
        let mut aad = vec![1, 1, 2, 3, 4];
        aad.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        aad.extend_from_slice(b"alice");
        aad.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 4]);
        aad.extend_from_slice(b"totp");
        let cipher = SealingKey::from_bytes(&[9; 32]).unwrap().cipher();
        let expected = encrypt(&cipher, &nonce, &aad, &[0x55; 20]).unwrap();
        assert_eq!(&bytes[29..], expected.as_slice());
    }

    #[test]
    fn from_bytes_checks_structure() {
        // Counted by hand: 5 header bytes, a 24-byte nonce, a 16-byte tag, and a secret of 16
        // bytes (128 bits) at least and 256 bytes (2048 bits) at most.
        assert_eq!((MIN_BLOB_LEN, MAX_BLOB_LEN), (61, 301));
        assert!(SealedSecret::from_bytes(vec![1; MIN_BLOB_LEN]).is_ok());
        assert!(SealedSecret::from_bytes(vec![1; MAX_BLOB_LEN]).is_ok());
        for bad in [
            vec![],
            vec![1; 4],
            vec![1; MIN_BLOB_LEN - 1],
            vec![1; MAX_BLOB_LEN + 1],
            vec![2; MIN_BLOB_LEN],
            vec![0; MIN_BLOB_LEN],
        ] {
            assert_eq!(
                SealedSecret::from_bytes(bad).map(|_| ()),
                Err(Error::MalformedSealedSecret)
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = SealingKey::from_bytes(&[0x77; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SealingKey { .. }");
        let keyring = Keyring::new(1, key)
            .with_key(7, SealingKey::from_bytes(&[0x78; 32]).unwrap())
            .unwrap();
        assert_eq!(
            format!("{keyring:?}"),
            "Keyring { current: 1, key_ids: [1, 7], .. }"
        );
        let sealed = keyring
            .seal(&Secret::generate().unwrap(), "u", "f")
            .unwrap();
        assert_eq!(
            format!("{sealed:?}"),
            "SealedSecret { key_id: 1, len: 65, .. }"
        );
    }
}
