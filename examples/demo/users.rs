//! The demo's user table: two accounts held in memory, passwords hashed with argon2 at start-up,
//! roles changeable by an admin.

use std::sync::{PoisonError, RwLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sessionward::Authorize;

/// What the demo keeps in each session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserData {
    pub name: String,
    pub role: String,
    pub permissions: Vec<String>,
}

impl Authorize for UserData {
    fn has_role(&self, role: &str) -> bool {
        self.role == role
    }

    fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// A role of the demo: what an account may do, and the permissions that come with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    /// Every role, for the admin page's role forms.
    pub const ALL: [Role; 2] = [Role::User, Role::Admin];

    /// The role's name, as sessions and `/api/me` show it.
    pub fn name(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// The permissions a session of this role holds.
    pub fn permissions(self) -> Vec<String> {
        let permissions: &[&str] = match self {
            Role::User => &["profile:read"],
            Role::Admin => &["profile:read", "users:read", "sessions:manage"],
        };
        permissions.iter().map(|p| (*p).to_owned()).collect()
    }
}

/// (username, password, role) of the seeded accounts.
const SEED: [(&str, &str, Role); 2] = [
    ("alice", "wonderland", Role::User),
    ("admin", "admin-password", Role::Admin),
];

struct Account {
    name: String,
    /// Changed by the admin's role forms: the next login gets the new role.
    role: RwLock<Role>,
    hash: String,
}

impl Account {
    fn user(&self) -> UserData {
        let role = *self.role.read().unwrap_or_else(PoisonError::into_inner);
        UserData {
            name: self.name.clone(),
            role: role.name().to_owned(),
            permissions: role.permissions(),
        }
    }
}

/// The user table. Only password hashes are kept.
pub struct Users {
    accounts: Vec<Account>,
    /// Verified against when the username is unknown, so a wrong name costs as much time as a
    /// wrong password and response times do not reveal which accounts exist.
    dummy_hash: String,
}

impl Users {
    /// Hashes the seeded passwords (off the async runtime: argon2 is deliberately slow).
    pub async fn seed() -> Users {
        tokio::task::spawn_blocking(|| {
            let accounts = SEED
                .iter()
                .map(|(name, password, role)| Account {
                    name: (*name).to_owned(),
                    role: RwLock::new(*role),
                    hash: hash(password),
                })
                .collect();
            let unguessable: [u8; 32] = rand::random();
            Users {
                accounts,
                dummy_hash: hash(&format!("{unguessable:?}")),
            }
        })
        .await
        .expect("hashing the seed passwords panicked")
    }

    /// Every account as a login would see it now, for the admin page.
    pub fn all(&self) -> Vec<UserData> {
        self.accounts.iter().map(Account::user).collect()
    }

    /// Gives `username` the role `role` (for logins from now on); `None` for an unknown user.
    pub fn set_role(&self, username: &str, role: Role) -> Option<UserData> {
        let account = self.accounts.iter().find(|a| a.name == username)?;
        *account.role.write().unwrap_or_else(PoisonError::into_inner) = role;
        Some(account.user())
    }

    /// The account whose password matches, or `None`.
    pub async fn authenticate(&self, username: &str, password: String) -> Option<UserData> {
        let account = self.accounts.iter().find(|a| a.name == username);
        let hash = account.map_or(&self.dummy_hash, |a| &a.hash).clone();
        // Argon2 takes 19 MiB and a core per check: a few at a time, so a burst of logins
        // queues instead of taking all memory and every blocking thread.
        let _turn = HASHING.acquire().await.ok()?;
        let verified = tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            // A panicked verification is a failed one: fail closed.
            .unwrap_or(false);
        account.filter(|_| verified).map(Account::user)
    }
}

/// How many password checks run at once (about one per core).
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

fn hash(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}
