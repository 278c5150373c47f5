//! The demo's user table: two accounts held in memory, passwords hashed with argon2 at start-up.

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

/// (username, password, role, permissions) of the seeded accounts.
const SEED: [(&str, &str, &str, &[&str]); 2] = [
    ("alice", "wonderland", "user", &["profile:read"]),
    (
        "admin",
        "admin-password",
        "admin",
        &["profile:read", "users:read", "sessions:manage"],
    ),
];

struct Account {
    user: UserData,
    hash: String,
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
                .map(|(name, password, role, permissions)| Account {
                    user: UserData {
                        name: (*name).to_owned(),
                        role: (*role).to_owned(),
                        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                    },
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

    /// Every account, for the admin page.
    pub fn all(&self) -> impl Iterator<Item = &UserData> {
        self.accounts.iter().map(|a| &a.user)
    }

    /// The account whose password matches, or `None`.
    pub async fn authenticate(&self, username: &str, password: String) -> Option<UserData> {
        let account = self.accounts.iter().find(|a| a.user.name == username);
        let hash = account.map_or(&self.dummy_hash, |a| &a.hash).clone();
        // Argon2 takes 19 MiB and a core per check: a few at a time, so a burst of logins
        // queues instead of taking all memory and every blocking thread.
        let _turn = HASHING.acquire().await.ok()?;
        let verified = tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            // A panicked verification is a failed one: fail closed.
            .unwrap_or(false);
        account.filter(|_| verified).map(|a| a.user.clone())
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
