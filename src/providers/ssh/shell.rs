//! Shell words. Every remote command is built from values `validate` has checked,
//! and every value is still quoted: defence in depth.

/// One POSIX shell word holding `s` exactly.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoted_words_survive_a_real_shell() {
        for s in [
            "plain",
            "",
            "two words",
            "it's",
            "$(rm -rf /)",
            "a'b\"c\\d`e`",
            "*",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }
}
