//! The Lua scripts behind every conditional write, run by `EVALSHA` with an `EVAL` fallback.
//!
//! Each script touches the keys of one cluster slot only (its `KEYS`), so it runs atomically on
//! a single Redis and on a cluster alike. The operations that span slots (create, rotate,
//! delete) are sequences of these scripts, ordered as the [module docs](super) explain.

use std::sync::LazyLock;

use fred::interfaces::ClientLike;
use fred::types::{ClusterHash, CustomCommand, FromValue, Value};

/// A Lua script and its SHA-1, for `EVALSHA`.
pub(super) struct Script {
    lua: &'static str,
    sha1: String,
}

impl Script {
    fn new(lua: &'static str) -> Self {
        Self {
            lua,
            sha1: fred::util::sha1_hash(lua),
        }
    }

    /// Runs the script on the node that holds `keys` (one slot). The first run on a node (or
    /// after `SCRIPT FLUSH`, a failover, a restart) answers `NOSCRIPT` to `EVALSHA`; then it is
    /// sent whole with `EVAL`, which also caches it there for the next `EVALSHA`.
    ///
    /// Sent as custom commands routed by the first key's slot, so that the client's per-command
    /// options (`fail_fast`) apply: fred's `LuaInterface` is not implemented for a client with
    /// options.
    pub(super) async fn run<R: FromValue>(
        &self,
        client: &impl ClientLike,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<R, fred::error::Error> {
        let slot = keys
            .first()
            .map_or(0, |key| fred::util::redis_keyslot(key.as_bytes()));
        let command = |script: Value| {
            let mut all = Vec::with_capacity(2 + keys.len() + args.len());
            all.push(script);
            all.push(Value::from(keys.len() as i64));
            all.extend(keys.iter().map(|key| Value::from(key.as_str())));
            all.extend(args.iter().cloned());
            all
        };
        let evalsha = CustomCommand::new_static("EVALSHA", ClusterHash::Custom(slot), false);
        match client
            .custom::<R, Value>(evalsha, command(Value::from(self.sha1.as_str())))
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                let eval = CustomCommand::new_static("EVAL", ClusterHash::Custom(slot), false);
                client.custom(eval, command(Value::from(self.lua))).await
            }
            result => result,
        }
    }
}

macro_rules! scripts {
    ($($(#[$attr:meta])* $name:ident => $file:literal),* $(,)?) => {
        $(
            $(#[$attr])*
            #[doc = concat!("`lua/", $file, "`, after `lua/prelude.lua`.")]
            pub(super) static $name: LazyLock<Script> =
                LazyLock::new(|| Script::new(concat!(
                    include_str!("lua/prelude.lua"),
                    include_str!(concat!("lua/", $file)),
                )));
        )*
    };
}

scripts! {
    CREATE => "create.lua",
    TOUCH => "touch.lua",
    UPDATE => "update.lua",
    REAUTHENTICATE => "reauthenticate.lua",
    FREEZE => "freeze.lua",
    UNFREEZE => "unfreeze.lua",
    REPOINT => "repoint.lua",
    DELETE => "delete.lua",
    DEL_IF_FIELD => "del_if_field.lua",
    DEL_IF_VALUE => "del_if_value.lua",
    INDEX_ADD => "index_add.lua",
    BUCKET_REGISTER => "bucket_register.lua",
    USER_ADD => "user_add.lua",
    USER_REMOVE => "user_remove.lua",
    USER_EXTEND => "user_extend.lua",
    USER_LIMIT => "user_limit.lua",
    #[cfg(feature = "jwt")]
    REVOCATION_ADD => "revocation_add.lua",
    #[cfg(feature = "jwt")]
    REVOCATIONS_SINCE => "revocations_since.lua",
    #[cfg(feature = "jwt")]
    REVOCATIONS_EXPIRE => "revocations_expire.lua",
}
