//! The live state a plan compares org files against, as providers read it.

use std::collections::BTreeMap;

use crate::resource::{Address, Attrs};

/// One object as it is live, in the same attribute vocabulary as the desired resource.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveObject {
    pub attrs: Attrs,
}

/// What a refresh found for one org.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub objects: BTreeMap<Address, LiveObject>,
}

impl LiveState {
    /// A digest of everything read, so a saved plan can tell that the world moved.
    pub fn fingerprint(&self) -> String {
        let mut canon = String::new();
        for (addr, obj) in &self.objects {
            canon.push_str(&addr.to_string());
            canon.push('=');
            // Attributes are kept sorted, so this is canonical.
            canon.push_str(&obj.attrs.to_json().to_string());
            canon.push('\n');
        }
        crate::util::sha256_hex(canon.as_bytes())
    }
}
