//! Argon2id password hashing (RFC 9106) with parameters checked once, at construction.
//!
//! For passwords in the examples and for any low-entropy secret that must be stored without a
//! pepper (NIST SP 800-63B section 5.1.1.2). Hashes are PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), the format every Argon2 library reads.

use core::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Salt length in bytes: 16, the length RFC 9106 section 3.1 and the PHC format recommend.
const SALT_LEN: usize = 16;
/// Output length in bytes: 32, RFC 9106's recommendation.
const OUTPUT_LEN: usize = 32;
/// Shortest salt accepted in a stored hash (RFC 9106: at least 8 bytes; we ask for 16).
const MIN_STORED_SALT_LEN: usize = 16;
/// Output lengths accepted in a stored hash.
const STORED_OUTPUT_LEN: core::ops::RangeInclusive<usize> = 16..=64;

/// Argon2id cost parameters, valid by construction.
///
/// The default is OWASP's Argon2id recommendation: 19 MiB of memory, 2 iterations, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl PasswordParams {
    /// The most memory accepted: 2 GiB, RFC 9106's first recommended option. More is taken as
    /// a mistake (or a hostile stored hash) rather than a choice.
    pub const MAX_MEMORY_KIB: u32 = 2 * 1024 * 1024;
    /// The most iterations accepted.
    pub const MAX_ITERATIONS: u32 = 64;
    /// The most lanes accepted.
    pub const MAX_PARALLELISM: u32 = 64;

    /// OWASP's recommendation: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Checks and takes Argon2id parameters.
    ///
    /// # Errors
    /// [`Error::InvalidPasswordParams`] if `parallelism` is 0 or above
    /// [`MAX_PARALLELISM`](Self::MAX_PARALLELISM), `iterations` is 0 or above
    /// [`MAX_ITERATIONS`](Self::MAX_ITERATIONS), or `memory_kib` is below `8 * parallelism`
    /// (Argon2's minimum) or above [`MAX_MEMORY_KIB`](Self::MAX_MEMORY_KIB).
    pub const fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        if parallelism == 0 {
            return Err(Error::InvalidPasswordParams(
                "parallelism must be at least 1",
            ));
        }
        if parallelism > Self::MAX_PARALLELISM {
            return Err(Error::InvalidPasswordParams("parallelism above 64 lanes"));
        }
        if iterations == 0 {
            return Err(Error::InvalidPasswordParams(
                "iterations must be at least 1",
            ));
        }
        if iterations > Self::MAX_ITERATIONS {
            return Err(Error::InvalidPasswordParams("iterations above 64"));
        }
        if (memory_kib as u64) < (parallelism as u64).saturating_mul(8) {
            return Err(Error::InvalidPasswordParams(
                "memory must be at least 8 KiB per lane",
            ));
        }
        if memory_kib > Self::MAX_MEMORY_KIB {
            return Err(Error::InvalidPasswordParams("memory above 2 GiB"));
        }
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory cost in KiB.
    #[must_use]
    pub const fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes over memory.
    #[must_use]
    pub const fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Number of lanes.
    #[must_use]
    pub const fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn argon2(&self, output_len: usize) -> Result<Argon2<'static>> {
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(output_len),
        )
        .map_err(|_| Error::InvalidPasswordParams("rejected by Argon2"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::OWASP
    }
}

/// A stored Argon2id hash in PHC string form, checked when parsed.
///
/// Not a secret, but what an attacker would crack: `Debug` shows the parameters only.
#[derive(Clone)]
pub struct PasswordHash {
    phc: String,
    params: PasswordParams,
}

impl PasswordHash {
    /// Parses a PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    ///
    /// Only Argon2id version 19 (0x13) with parameters [`PasswordParams::new`] accepts, a salt
    /// of at least 16 bytes and an output of 16 to 64 bytes: a stored hash asking for 4 TiB
    /// of memory is refused here instead of being run.
    ///
    /// # Errors
    /// [`Error::MalformedPasswordHash`] for anything else.
    pub fn parse(phc: &str) -> Result<Self> {
        let parsed = argon2::PasswordHash::new(phc).map_err(|_| Error::MalformedPasswordHash)?;
        if parsed.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
            return Err(Error::MalformedPasswordHash);
        }
        if parsed.version != Some(Version::V0x13 as u32) {
            return Err(Error::MalformedPasswordHash);
        }
        let argon = Params::try_from(&parsed).map_err(|_| Error::MalformedPasswordHash)?;
        if !argon.keyid().is_empty() || !argon.data().is_empty() {
            return Err(Error::MalformedPasswordHash);
        }
        let params = PasswordParams::new(argon.m_cost(), argon.t_cost(), argon.p_cost())
            .map_err(|_| Error::MalformedPasswordHash)?;
        let salt_ok = parsed
            .salt
            .as_ref()
            .is_some_and(|s| s.len() >= MIN_STORED_SALT_LEN);
        let output_ok = parsed
            .hash
            .as_ref()
            .is_some_and(|h| STORED_OUTPUT_LEN.contains(&h.len()));
        if !salt_ok || !output_ok {
            return Err(Error::MalformedPasswordHash);
        }
        Ok(Self {
            phc: phc.to_owned(),
            params,
        })
    }

    /// The PHC string, to store.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.phc
    }

    /// The parameters the hash was made with.
    #[must_use]
    pub fn params(&self) -> PasswordParams {
        self.params
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Hashes and verifies passwords with Argon2id.
///
/// ```
/// use mfa_core::{PasswordHasher, PasswordParams};
///
/// // Small parameters keep the example fast; use the default (OWASP) in production.
/// let hasher = PasswordHasher::new(PasswordParams::new(64, 1, 1)?);
/// let hash = hasher.hash_password(b"correct horse battery staple")?;
/// assert!(hash.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
/// assert!(hasher.verify_password(b"correct horse battery staple", &hash)?);
/// assert!(!hasher.verify_password(b"Tr0ub4dor&3", &hash)?);
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordHasher {
    params: PasswordParams,
}

impl PasswordHasher {
    /// A hasher that makes new hashes with `params`.
    #[must_use]
    pub const fn new(params: PasswordParams) -> Self {
        Self { params }
    }

    /// The parameters new hashes are made with.
    #[must_use]
    pub const fn params(&self) -> PasswordParams {
        self.params
    }

    /// Hashes `password` under a fresh 16-byte salt from the operating system's RNG.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness,
    /// [`Error::InvalidPasswordParams`] if Argon2 refuses the input (a password over 4 GiB).
    pub fn hash_password(&self, password: &[u8]) -> Result<PasswordHash> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| Error::Rng)?;
        self.hash_with_salt(password, &salt)
    }

    /// Hashes `password` under a fresh 16-byte salt from the given RNG.
    ///
    /// # Errors
    /// [`Error::InvalidPasswordParams`] if Argon2 refuses the input (a password over 4 GiB).
    pub fn hash_password_with_rng<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        password: &[u8],
    ) -> Result<PasswordHash> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        self.hash_with_salt(password, &salt)
    }

    fn hash_with_salt(&self, password: &[u8], salt: &[u8]) -> Result<PasswordHash> {
        use argon2::PasswordHasher as _;
        let phc = self
            .params
            .argon2(OUTPUT_LEN)?
            .hash_password_with_salt(password, salt)
            .map_err(|_| Error::InvalidPasswordParams("rejected by Argon2"))?;
        Ok(PasswordHash {
            phc: phc.to_string(),
            params: self.params,
        })
    }

    /// Checks `password` against a stored hash, with the parameters and salt recorded in the
    /// hash (not this hasher's), comparing in constant time.
    ///
    /// # Errors
    /// [`Error::MalformedPasswordHash`] if the stored hash cannot be recomputed.
    pub fn verify_password(&self, password: &[u8], hash: &PasswordHash) -> Result<bool> {
        let parsed =
            argon2::PasswordHash::new(&hash.phc).map_err(|_| Error::MalformedPasswordHash)?;
        let (Some(salt), Some(expected)) = (parsed.salt.as_ref(), parsed.hash.as_ref()) else {
            return Err(Error::MalformedPasswordHash);
        };
        let expected = expected.as_bytes();
        let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
        hash.params
            .argon2(expected.len())
            .map_err(|_| Error::MalformedPasswordHash)?
            .hash_password_into(password, salt.as_ref(), &mut computed)
            .map_err(|_| Error::MalformedPasswordHash)?;
        Ok(bool::from(computed.as_slice().ct_eq(expected)))
    }

    /// Whether a stored hash was made with other parameters than this hasher's, so that it
    /// should be replaced by a new hash at the next successful login.
    #[must_use]
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        hash.params != self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(PasswordParams::new(64, 1, 1).unwrap())
    }

    #[test]
    fn parameters_are_accepted_up_to_2_gib_and_reported_as_given() {
        let p = PasswordParams::new(PasswordParams::MAX_MEMORY_KIB, 3, 4).unwrap();
        assert_eq!(PasswordParams::MAX_MEMORY_KIB, 2_097_152);
        assert_eq!(
            (p.memory_kib(), p.iterations(), p.parallelism()),
            (2_097_152, 3, 4)
        );
        assert_eq!(
            PasswordParams::new(PasswordParams::MAX_MEMORY_KIB + 1, 3, 4),
            Err(Error::InvalidPasswordParams("memory above 2 GiB"))
        );
    }

    #[test]
    fn argon2id_rfc9106_section_5_3() {
        // RFC 9106 section 5.3 pins the primitive this module builds on (secret and associated
        // data are only reachable through the argon2 crate's own API).
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(argon2::AssociatedData::new(&[0x04; 12]).unwrap())
            .build()
            .unwrap();
        let ctx = Argon2::new_with_secret(&[0x03; 8], Algorithm::Argon2id, Version::V0x13, params)
            .unwrap();
        let mut out = [0u8; 32];
        ctx.hash_password_into(&[0x01; 32], &[0x02; 16], &mut out)
            .unwrap();
        let expected = [
            0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b,
            0x53, 0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9,
            0x6b, 0x01, 0xe6, 0x59,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn verifies_a_hash_made_by_argon2_cffi() {
        // Made by argon2-cffi 25.1.0 (Python bindings to the reference C implementation):
        // argon2.low_level.hash_secret(b"correct horse battery staple", b"mfa-core-salt-16",
        //     time_cost=2, memory_cost=64, parallelism=1, hash_len=32, type=Type.ID)
        let phc = "$argon2id$v=19$m=64,t=2,p=1$bWZhLWNvcmUtc2FsdC0xNg$\
                   J/FZsFb0x9tPqkXudG0P+h5tN0TMJqF7kqZ+plXLnGE";
        let hash = PasswordHash::parse(phc).unwrap();
        assert_eq!(hash.params(), PasswordParams::new(64, 2, 1).unwrap());
        let hasher = PasswordHasher::default();
        assert!(
            hasher
                .verify_password(b"correct horse battery staple", &hash)
                .unwrap()
        );
        assert!(
            !hasher
                .verify_password(b"correct horse battery stapl", &hash)
                .unwrap()
        );
        assert!(hasher.needs_rehash(&hash));
        // The same salt and parameters through our hasher give the same string.
        let ours = PasswordHasher::new(PasswordParams::new(64, 2, 1).unwrap())
            .hash_with_salt(b"correct horse battery staple", b"mfa-core-salt-16")
            .unwrap();
        assert_eq!(ours.as_str(), phc);
    }

    #[test]
    fn params_are_checked() {
        assert!(PasswordParams::new(8, 1, 1).is_ok());
        assert!(PasswordParams::new(7, 1, 1).is_err());
        assert!(PasswordParams::new(31, 1, 4).is_err());
        assert!(PasswordParams::new(32, 1, 4).is_ok());
        assert!(PasswordParams::new(64, 0, 1).is_err());
        assert!(PasswordParams::new(64, 1, 0).is_err());
        assert!(PasswordParams::new(u32::MAX, 1, 1).is_err());
        assert!(PasswordParams::new(64, u32::MAX, 1).is_err());
        assert!(PasswordParams::new(u32::MAX, 1, u32::MAX).is_err());
        assert!(PasswordParams::new(PasswordParams::MAX_MEMORY_KIB, 1, 1).is_ok());
        let d = PasswordParams::default();
        assert_eq!(
            (d.memory_kib(), d.iterations(), d.parallelism()),
            (19_456, 2, 1)
        );
    }

    #[test]
    fn round_trip_and_fresh_salts() {
        let hasher = fast();
        let a = hasher.hash_password(b"hunter2").unwrap();
        let b = hasher.hash_password(b"hunter2").unwrap();
        assert_ne!(a.as_str(), b.as_str());
        let a = PasswordHash::parse(a.as_str()).unwrap();
        assert!(hasher.verify_password(b"hunter2", &a).unwrap());
        assert!(hasher.verify_password(b"hunter2", &b).unwrap());
        assert!(!hasher.verify_password(b"hunter3", &a).unwrap());
        assert!(!hasher.verify_password(b"", &a).unwrap());
        assert!(!hasher.needs_rehash(&a));
    }

    #[test]
    fn parse_refuses_other_or_hostile_hashes() {
        let salt = "bWZhLWNvcmUtc2FsdC0xNg";
        let out = "J/FZsFb0x9tPqkXudG0P+h5tN0TMJqF7kqZ+plXLnGE";
        for bad in [
            String::new(),
            "not a hash".to_owned(),
            // argon2i, by argon2-cffi with the same inputs as above.
            "$argon2i$v=19$m=64,t=2,p=1$bWZhLWNvcmUtc2FsdC0xNg$\
             rBdRYz5Yx8mTDPDqKSpEo5kzVtvC0CD3OdZS2IEsvQI"
                .to_owned(),
            format!("$argon2d$v=19$m=64,t=2,p=1${salt}${out}"),
            format!("$argon2id$v=16$m=64,t=2,p=1${salt}${out}"),
            format!("$argon2id$m=64,t=2,p=1${salt}${out}"),
            format!("$argon2id$v=19$m=4294967295,t=2,p=1${salt}${out}"),
            format!("$argon2id$v=19$m=64,t=1000,p=1${salt}${out}"),
            format!("$argon2id$v=19$m=64,t=2,p=1${salt}"),
            format!("$argon2id$v=19$m=64,t=2,p=1$c2FsdA${out}"),
            format!("$argon2id$v=19$m=64,t=2,p=1${salt}$AAAA"),
            format!("$argon2id$v=19$m=64,t=2,p=1,data=AAAA${salt}${out}"),
            format!("$scrypt$ln=15,r=8,p=1${salt}${out}"),
        ] {
            assert_eq!(
                PasswordHash::parse(&bad).map(|_| ()),
                Err(Error::MalformedPasswordHash),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_shows_parameters_only() {
        let hash = fast().hash_password(b"hunter2").unwrap();
        let debug = format!("{hash:?}");
        assert!(debug.starts_with("PasswordHash { params: PasswordParams {"));
        assert!(!debug.contains('$'));
    }
}
