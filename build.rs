fn main() {
    // `sqlx::migrate!` embeds the files under migrations/: rebuild when they change.
    println!("cargo:rerun-if-changed=migrations");
}
