//! Host key verification against an OpenSSH known_hosts file. Nothing is trusted on
//! first use: a host whose key is not in the file, or whose key changed, is refused
//! with the key's fingerprint and the exact line that would trust it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// One usable line of a known_hosts file.
#[derive(Debug, Clone)]
struct Entry {
    patterns: Patterns,
    key_type: String,
    key: Vec<u8>,
    revoked: bool,
}

#[derive(Debug, Clone)]
enum Patterns {
    Plain(Vec<String>),
    /// `|1|salt|hash`: HMAC-SHA1 of the host name keyed with the salt.
    Hashed {
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    pub path: PathBuf,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HostKeyError {
    #[error(
        "host key of {name} is not in {known_hosts}: refusing to connect\n  key offered: {key_type} {fingerprint}\n  if that is the host's real key (check it on the host with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`), add this line to {known_hosts}:\n  {line}"
    )]
    Unknown {
        name: String,
        known_hosts: String,
        key_type: String,
        fingerprint: String,
        line: String,
    },
    #[error(
        "host key of {name} has CHANGED: refusing to connect (someone may be intercepting the connection, or the host was reinstalled)\n  key offered: {key_type} {fingerprint}\n  expected:    {expected}\n  if the host was really reinstalled, replace its line in {known_hosts} with:\n  {line}"
    )]
    Changed {
        name: String,
        known_hosts: String,
        key_type: String,
        fingerprint: String,
        expected: String,
        line: String,
    },
    #[error("host key of {name} ({fingerprint}) is marked @revoked in {known_hosts}")]
    Revoked {
        name: String,
        known_hosts: String,
        fingerprint: String,
    },
}

/// `SHA256:...` as OpenSSH prints it.
pub fn fingerprint(key: &[u8]) -> String {
    let digest = openssl::sha::sha256(key);
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

/// How the host is named in known_hosts: `host`, or `[host]:port` off port 22.
pub fn host_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    // Wildcards as OpenSSH has them: `*` any run, `?` one character.
    fn glob(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], n) || (!n.is_empty() && glob(p, &n[1..])),
            (Some(b'?'), Some(_)) => glob(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => glob(&p[1..], &n[1..]),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), name.as_bytes())
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let pkey = PKey::hmac(key).ok()?;
    let mut signer = Signer::new(MessageDigest::sha1(), &pkey).ok()?;
    signer.update(data).ok()?;
    signer.sign_to_vec().ok()
}

impl Entry {
    fn matches(&self, name: &str) -> bool {
        match &self.patterns {
            Patterns::Plain(list) => {
                let mut hit = false;
                for p in list {
                    if let Some(neg) = p.strip_prefix('!') {
                        if pattern_matches(neg, name) {
                            return false;
                        }
                    } else if pattern_matches(p, name) {
                        hit = true;
                    }
                }
                hit
            }
            Patterns::Hashed { salt, hash } => {
                hmac_sha1(salt, name.as_bytes()).is_some_and(|h| &h == hash)
            }
        }
    }
}

impl KnownHosts {
    /// Reads the file; a missing file is an empty one (every host is then refused,
    /// with the line to add).
    pub fn load(path: &Path) -> std::io::Result<KnownHosts> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        Ok(KnownHosts {
            path: path.to_path_buf(),
            entries: text.lines().filter_map(parse_line).collect(),
        })
    }

    /// Key types the file has for a host, so the handshake asks for one of them.
    pub fn key_types(&self, name: &str) -> Vec<String> {
        let mut types: Vec<String> = self
            .entries
            .iter()
            .filter(|e| !e.revoked && e.matches(name))
            .map(|e| e.key_type.clone())
            .collect();
        types.dedup();
        types
    }

    pub fn check(&self, name: &str, key_type: &str, key: &[u8]) -> Result<(), Box<HostKeyError>> {
        let fp = fingerprint(key);
        let shown = self.path.display().to_string();
        let line = format!("{name} {key_type} {}", STANDARD.encode(key));
        let matching: Vec<&Entry> = self.entries.iter().filter(|e| e.matches(name)).collect();
        if matching.iter().any(|e| e.revoked && e.key == key) {
            return Err(Box::new(HostKeyError::Revoked {
                name: name.to_string(),
                known_hosts: shown,
                fingerprint: fp,
            }));
        }
        if matching.iter().any(|e| !e.revoked && e.key == key) {
            return Ok(());
        }
        let old = matching
            .iter()
            .find(|e| !e.revoked && e.key_type == key_type);
        Err(Box::new(match old {
            Some(old) => HostKeyError::Changed {
                name: name.to_string(),
                known_hosts: shown,
                key_type: key_type.to_string(),
                fingerprint: fp,
                expected: format!("{} {}", old.key_type, fingerprint(&old.key)),
                line,
            },
            None => HostKeyError::Unknown {
                name: name.to_string(),
                known_hosts: shown,
                key_type: key_type.to_string(),
                fingerprint: fp,
                line,
            },
        }))
    }
}

fn parse_line(line: &str) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let mut revoked = false;
    if first.starts_with('@') {
        match first {
            "@revoked" => revoked = true,
            // Certificate authorities are not supported: such lines trust nothing.
            _ => return None,
        }
        first = fields.next()?;
    }
    let key_type = fields.next()?.to_string();
    let key = STANDARD.decode(fields.next()?).ok()?;
    let patterns = if let Some(rest) = first.strip_prefix("|1|") {
        let (salt, hash) = rest.split_once('|')?;
        Patterns::Hashed {
            salt: STANDARD.decode(salt).ok()?,
            hash: STANDARD.decode(hash).ok()?,
        }
    } else {
        Patterns::Plain(first.split(',').map(str::to_string).collect())
    };
    Some(Entry {
        patterns,
        key_type,
        key,
        revoked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> KnownHosts {
        KnownHosts {
            path: PathBuf::from("ssh/known_hosts"),
            entries: text.lines().filter_map(parse_line).collect(),
        }
    }

    #[test]
    fn plain_hashed_ported_and_changed_keys() {
        let key = b"key-one".to_vec();
        let other = b"key-two".to_vec();
        let b = |k: &[u8]| STANDARD.encode(k);
        // `|1|` entry for "10.0.0.9", salt "salt-salt-salt-salt!".
        let salt = b"salt-salt-salt-salt!";
        let hash = hmac_sha1(salt, b"10.0.0.9").unwrap();
        let text = format!(
            "# comment\n10.0.0.5,office ssh-ed25519 {k}\n[10.0.0.6]:2222 ssh-ed25519 {k}\n|1|{s}|{h} ssh-ed25519 {k}\n@revoked 10.0.0.7 ssh-ed25519 {k}\n",
            k = b(&key),
            s = b(salt),
            h = b(&hash)
        );
        let kh = hosts(&text);
        // Which way a check went: "ok", "unknown", "changed" or "revoked".
        let check = |n: &str, k: &[u8]| match kh.check(n, "ssh-ed25519", k) {
            Ok(()) => "ok",
            Err(e) => match *e {
                HostKeyError::Unknown { .. } => "unknown",
                HostKeyError::Changed { .. } => "changed",
                HostKeyError::Revoked { .. } => "revoked",
            },
        };
        assert_eq!(check("10.0.0.5", &key), "ok");
        assert_eq!(check("office", &key), "ok");
        assert_eq!(check("[10.0.0.6]:2222", &key), "ok");
        assert_eq!(check("10.0.0.9", &key), "ok");
        assert_eq!(check("10.0.0.6", &key), "unknown");
        assert_eq!(check("10.0.0.5", &other), "changed");
        assert_eq!(check("10.0.0.7", &key), "revoked");
        let text = kh
            .check("10.0.0.5", "ssh-ed25519", &other)
            .unwrap_err()
            .to_string();
        assert!(text.contains(&fingerprint(&other)), "{text}");
        assert!(text.contains(&fingerprint(&key)), "{text}");
        assert_eq!(kh.key_types("10.0.0.5"), vec!["ssh-ed25519".to_string()]);
        assert_eq!(host_name("h", 22), "h");
        assert_eq!(host_name("h", 2222), "[h]:2222");
    }

    #[test]
    fn fingerprints_match_openssh() {
        // ssh-keygen -lf on this public key prints this fingerprint.
        let key = STANDARD
            .decode("AAAAC3NzaC1lZDI1NTE5AAAAIACTPIqrBqkMS1LzyrH4Alzw1ym6ZpHFLWFTQTtCYbbf")
            .unwrap();
        assert_eq!(
            fingerprint(&key),
            "SHA256:XTE5dCIEfVAg5RJ/mgYw7WQY8nMqDU6zBAqtjwEfKtA"
        );
    }
}
