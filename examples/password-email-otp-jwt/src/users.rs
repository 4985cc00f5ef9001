//! A tiny in-memory user table: names, addresses and Argon2id password hashes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use mfa::EmailAddress;
use mfa::core::{PasswordHash, PasswordHasher};

use crate::error::{Error, Result};

/// One registered user.
#[derive(Debug, Clone)]
struct User {
    email: EmailAddress,
    hash: PasswordHash,
}

/// The application's users (a real application keeps them in its own database).
#[derive(Debug)]
pub(crate) struct Users {
    hasher: PasswordHasher,
    users: Mutex<HashMap<String, User>>,
    /// Checked for unknown names, so they cost as much as known ones.
    dummy: PasswordHash,
}

impl Users {
    pub(crate) fn new(hasher: PasswordHasher) -> Result<Self> {
        let dummy = hasher.hash_password(b"not a password anyone has")?;
        Ok(Self {
            hasher,
            users: Mutex::new(HashMap::new()),
            dummy,
        })
    }

    /// Adds `name` with the hash of `password`.
    pub(crate) fn add(&self, name: &str, email: &EmailAddress, password: &str) -> Result<()> {
        let hash = self.hasher.hash_password(password.as_bytes())?;
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if users.contains_key(name) {
            return Err(Error::UserExists);
        }
        users.insert(
            name.to_owned(),
            User {
                email: email.clone(),
                hash,
            },
        );
        Ok(())
    }

    /// Forgets `name`.
    pub(crate) fn remove(&self, name: &str) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.remove(name);
    }

    /// The address of `name`, if registered.
    pub(crate) fn email(&self, name: &str) -> Option<EmailAddress> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.get(name).map(|u| u.email.clone())
    }

    /// Whether `password` is `name`'s (the same work for unknown names).
    pub(crate) fn check(&self, name: &str, password: &str) -> Result<bool> {
        let known = {
            let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            users.get(name).map(|u| u.hash.clone())
        };
        let hash = known.as_ref().unwrap_or(&self.dummy);
        let ok = self.hasher.verify_password(password.as_bytes(), hash)?;
        Ok(ok && known.is_some())
    }
}
