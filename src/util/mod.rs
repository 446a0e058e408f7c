//! Small helpers with no better home, by subject: time, text diffs, files; and hashing.

mod diff;
mod files;
mod time;

pub use diff::unified_diff;
pub use files::{ReadError, read_inside, read_own, write_atomic, yaml_files};
pub use time::{
    date_text, human_duration, now_rfc3339, parse_date, parse_duration, parse_rfc3339, rfc3339,
    set_as_of, today, today_in, unix_now,
};

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = openssl::sha::sha256(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
