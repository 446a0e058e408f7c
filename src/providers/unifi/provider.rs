//! The UniFi provider behind the engine's [`Provider`] trait: one site per org on the
//! pool's controller, read with list calls and changed through the classic API.
//!
//! Why the classic API for Wi-Fi broadcasts and networks, with the integration API
//! there: the integration API lists broadcasts as overviews (no passphrase, isolation
//! or hidden flag), so comparing them field by field would cost a GET per broadcast,
//! and its PUT replaces the whole object, resetting what Steward does not model. The
//! classic `rest/wlanconf` returns every field of a site's broadcasts in one call and
//! its PUT changes only the fields sent. Sites are made with the classic API on every
//! version (the integration API cannot make one). Devices and their health come from
//! the integration API when the controller has it (with devices waiting for adoption
//! and the site they are offered to), else from `stat/device`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use hyper::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::NAME;
use super::client::{Controller, Device, DeviceState, SiteInfo, UnifiError};
use super::config::{self, UnifiConfig};
use super::fields;
use super::kinds::{self, U};
use crate::diag::{Problem, Problems};
use crate::org::Org;
use crate::plan::{Action, Change, Unhealthy, source_of};
use crate::pool::Pool;
use crate::providers::{
    self, ApplyCtx, BoxFuture, Entry, LiveObject, LiveState, Provider, ProviderError, Refresh,
    Review, Started,
};
use crate::resource::{Attrs, Resource};
use crate::secrets::Secrets;

pub static ENTRY: Entry = Entry {
    name: NAME,
    kinds: &kinds::KINDS,
    settings: |text| Ok(Arc::new(config::parse(text)?)),
    settings_schema: |generator| generator.subschema_for::<UnifiConfig>(),
    section: None,
    check,
    start,
    measures: &[],
};

/// What a passphrase read back is shown as: never its value, only whether it is the
/// file's.
const SAME_PASSPHRASE: &str = "(secret)";
const OTHER_PASSPHRASE: &str = "(secret, not the file's)";

fn start(pool: &Pool, secrets: &Secrets) -> Started {
    let config: UnifiConfig = pool.provider_settings(NAME);
    // Every org id of the pool, selected or not: a site no org file is named after is
    // someone else's.
    let orgs = crate::org::discover(pool)
        .unwrap_or_default()
        .iter()
        .map(|p| crate::org::id_from_path(p))
        .collect();
    Ok(Arc::new(Unifi {
        config,
        secrets: secrets.clone(),
        controller: OnceCell::new(),
        sites: OnceCell::new(),
        orgs,
    }))
}

/// An error kept to be told to every org of the run (a failed login is not retried
/// once per org: controllers lock accounts out).
#[derive(Clone)]
struct Kept(providers::Who, String);

impl From<&Kept> for ProviderError {
    fn from(k: &Kept) -> ProviderError {
        match k.0 {
            providers::Who::Config => ProviderError::Config(k.1.clone()),
            providers::Who::Decision => ProviderError::Refused(k.1.clone()),
            providers::Who::Remote => ProviderError::Remote(k.1.clone()),
            providers::Who::Internal => ProviderError::Internal(k.1.clone()),
        }
    }
}

impl From<UnifiError> for ProviderError {
    fn from(e: UnifiError) -> ProviderError {
        let message = e.to_string();
        match e {
            UnifiError::Setup(_)
            | UnifiError::Fingerprint { .. }
            | UnifiError::Login { .. }
            | UnifiError::Version { .. } => ProviderError::Config(message),
            UnifiError::Unreachable { .. }
            | UnifiError::Refused { .. }
            | UnifiError::Shape { .. } => ProviderError::Remote(message),
        }
    }
}

/// The sites of the controller, read once per run.
struct Sites {
    classic: Vec<SiteInfo>,
    /// Short name -> the integration API's id.
    uuids: BTreeMap<String, String>,
    /// Devices waiting for adoption, with the ids of the sites they are offered to.
    pending: Vec<(Vec<String>, Device)>,
}

pub struct Unifi {
    config: UnifiConfig,
    secrets: Secrets,
    controller: OnceCell<Result<Arc<Controller>, Kept>>,
    sites: OnceCell<Result<Arc<Sites>, Kept>>,
    orgs: BTreeSet<String>,
}

/// One org's site, from refresh to apply.
struct OrgSite {
    controller: Arc<Controller>,
    site: Mutex<Option<SiteInfo>>,
    /// VLAN -> network id.
    networks: Mutex<BTreeMap<i64, String>>,
    /// The site's untagged network, for a broadcast taken off its VLAN.
    default_network: Option<String>,
    /// SSID -> broadcast id.
    wlans: BTreeMap<String, String>,
    /// The site's devices, for health. Kept out of the live state: an access point
    /// going offline between a saved plan and its apply does not make the plan stale.
    devices: Vec<(crate::resource::Address, Attrs)>,
}

impl Unifi {
    async fn controller(&self) -> Result<Arc<Controller>, ProviderError> {
        let kept = self
            .controller
            .get_or_init(|| async {
                Controller::connect(&self.config, &self.secrets)
                    .await
                    .map(|c| {
                        tracing::debug!(
                            version = %c.version,
                            flavour = ?c.flavour,
                            integration = c.integration,
                            "unifi: logged in"
                        );
                        Arc::new(c)
                    })
                    .map_err(|e| {
                        let e = ProviderError::from(e);
                        Kept(e.who(), e.to_string())
                    })
            })
            .await;
        kept.clone().map_err(|k| ProviderError::from(&k))
    }

    async fn sites(&self, c: &Controller) -> Result<Arc<Sites>, ProviderError> {
        let kept = self
            .sites
            .get_or_init(|| async {
                let read = async {
                    // Three independent lists: read at once.
                    let (classic, uuids, pending) = if c.integration {
                        let (classic, uuids, pending) =
                            tokio::join!(c.sites(), c.integration_sites(), c.pending_devices());
                        (classic?, uuids?, pending?)
                    } else {
                        (c.sites().await?, BTreeMap::new(), Vec::new())
                    };
                    Ok::<_, UnifiError>(Arc::new(Sites {
                        classic,
                        uuids,
                        pending,
                    }))
                };
                read.await.map_err(|e| {
                    let e = ProviderError::from(e);
                    Kept(e.who(), e.to_string())
                })
            })
            .await;
        kept.clone().map_err(|k| ProviderError::from(&k))
    }

    /// Sites no org file of the pool is named after: left alone, and said once.
    fn unmanaged_sites(&self) -> Vec<String> {
        match self.sites.get() {
            Some(Ok(sites)) => sites
                .classic
                .iter()
                .filter(|s| !self.orgs.contains(&s.desc))
                .map(|s| format!("{} ({})", s.desc, s.name))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The org's site resource, if its file has one.
fn site_resource(org: &Org) -> Option<&Resource> {
    org.resources
        .iter()
        .find(|r| U::of(r.address.kind) == Some(U::Site))
}

/// What the controller holds for a desired broadcast, in the file's vocabulary.
fn live_wlan(w: &Value, org: &Org, networks: &[Value], secrets: &Secrets) -> Attrs {
    let mut a = Attrs::default();
    let ssid = w["name"].as_str().unwrap_or_default();
    a.insert("site", json!(org.id));
    a.insert("ssid", json!(ssid));
    let security = match (
        w["security"].as_str().unwrap_or_default(),
        w["wpa_mode"].as_str().unwrap_or("wpa2"),
        w["wpa3_support"] == true,
        w["wpa3_transition"] == true,
    ) {
        ("open", ..) => "open".to_string(),
        ("wpapsk", "wpa2", true, false) => "wpa3-sae".to_string(),
        ("wpapsk", "wpa2", true, true) => "wpa2-wpa3".to_string(),
        ("wpapsk", "wpa2", false, _) => "wpa2-psk".to_string(),
        (sec, mode, ..) => format!("{sec} ({mode})"),
    };
    a.insert("security", json!(security));
    a.insert("guest", json!(w["l2_isolation"] == true));
    a.insert("hidden", json!(w["hide_ssid"] == true));
    a.insert(
        "band",
        json!(match w["wlan_band"].as_str() {
            Some("2g") => "2.4GHz",
            Some("5g") => "5GHz",
            Some("both") | None => "both",
            Some(other) => other,
        }),
    );
    // The VLAN: of the network it is on (7.x and later), or its own (older ones).
    let vlan = w["networkconf_id"]
        .as_str()
        .and_then(|id| networks.iter().find(|n| n["_id"] == id))
        .and_then(vlan_of)
        .or_else(|| vlan_of(w));
    a.insert("vlan", vlan.map_or(Value::Null, |v| json!(v)));
    a.insert("enabled", json!(w["enabled"] != false));
    // The passphrase is compared here and never leaves as a value.
    if let Some(live) = w["x_passphrase"].as_str().filter(|_| security != "open") {
        let wanted = org
            .resource(&U::Wlan.at(ssid))
            .and_then(|r| r.secrets.get("passphrase"))
            .and_then(|name| secrets.resolve(name).ok());
        let same = wanted.is_some_and(|s| s.expose() == live);
        a.insert(
            "passphrase",
            json!(if same {
                SAME_PASSPHRASE
            } else {
                OTHER_PASSPHRASE
            }),
        );
    }
    a
}

/// A number the controller may write as text (`"20"`) or as a number.
fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

/// The VLAN of a network that has one (or of a broadcast that has its own, as
/// controllers before 7.x wrote it).
fn vlan_of(n: &Value) -> Option<i64> {
    (n["vlan_enabled"] == true)
        .then(|| number(&n["vlan"]))
        .flatten()
}

/// The broadcast as the controller takes it, from a desired resource.
fn wlan_body(
    r: &Resource,
    passphrase: Option<&str>,
    network: Option<&str>,
) -> Result<Value, ProviderError> {
    let a = &r.attrs;
    let security = a.str("security");
    let (wpa3, transition, pmf) = match security {
        "wpa3-sae" => (true, false, "required"),
        "wpa2-wpa3" => (true, true, "optional"),
        _ => (false, false, "disabled"),
    };
    let mut body = json!({
        "name": a.str("ssid"),
        "enabled": true,
        "security": if security == "open" { "open" } else { "wpapsk" },
        "hide_ssid": a.get("hidden") == Some(&json!(true)),
        "l2_isolation": a.get("guest") == Some(&json!(true)),
        "wlan_band": match a.str("band") {
            "2.4GHz" => "2g",
            "5GHz" => "5g",
            _ => "both",
        },
    });
    if security != "open" {
        body["wpa_mode"] = json!("wpa2");
        body["wpa_enc"] = json!("ccmp");
        body["wpa3_support"] = json!(wpa3);
        body["wpa3_transition"] = json!(transition);
        body["pmf_mode"] = json!(pmf);
        if let Some(p) = passphrase {
            body["x_passphrase"] = json!(p);
        }
    }
    if let Some(id) = network {
        body["networkconf_id"] = json!(id);
    }
    held_to_definitions(&fields::WLAN, &body, "Wi-Fi broadcast")?;
    Ok(body)
}

/// Refuses to send what the controller's own field definitions would refuse; the
/// message names the field, never its value (it may be a passphrase).
fn held_to_definitions(
    defs: &Result<fields::Fields, String>,
    body: &Value,
    what: &str,
) -> Result<(), ProviderError> {
    let defs = defs
        .as_ref()
        .map_err(|e| ProviderError::Internal(format!("UniFi field definitions: {e}")))?;
    match fields::check(defs, body).into_iter().next() {
        None => Ok(()),
        Some(v) => Err(ProviderError::Config(format!(
            "the {what} has a value the controller would refuse: field `{}` must match `{}`",
            v.field, v.pattern
        ))),
    }
}

/// The first field of `body` the controller's definitions refuse (none when the
/// definitions could not be read: `held_to_definitions` says so at apply time).
fn refused(defs: &Result<fields::Fields, String>, body: &Value) -> Option<fields::Violation> {
    fields::check(defs.as_ref().ok()?, body).into_iter().next()
}

/// What the controller would refuse, found by `validate` at the line that says it.
fn check(org: &Org, secrets: &Secrets) -> Problems {
    let mut problems = Problems::default();
    let at = |path: &str| org.span_of(path);
    for r in &org.resources {
        let Some(u) = U::of(r.address.kind) else {
            continue;
        };
        // A module may not reach another org's site.
        if r.attrs.str("site") != org.id {
            problems.push(
                Problem::at(
                    "other_site",
                    &org.file,
                    at(&r.source),
                    format!(
                        "{} `{}` names the UniFi site `{}`; an org's resources are only ever in its own site, `{}`",
                        r.address.kind.noun(),
                        r.address.id,
                        r.attrs.str("site"),
                        org.id
                    ),
                    "from here",
                )
                .with_help("the module's template must set `site` to the org id"),
            );
        }
        match u {
            U::Network => {
                let body =
                    json!({"vlan": r.attrs.get("vlan").map(Value::to_string).unwrap_or_default()});
                if let Some(v) = refused(&fields::NETWORK, &body) {
                    problems.push(
                        Problem::at(
                            "controller_refuses",
                            &org.file,
                            at(&r.source),
                            format!(
                                "VLAN {} is outside what a UniFi controller takes for a network (2 to 4018: `{}` must match `{}`)",
                                r.address.id, v.field, v.pattern
                            ),
                            "this VLAN",
                        )
                        .with_help("VLAN 1 is the untagged network: leave `vlan` out for it"),
                    );
                }
            }
            U::Wlan => {
                let security = r.attrs.str("security");
                let passphrase = r.secrets.get("passphrase");
                match (security == "open", passphrase) {
                    (false, None) => problems.push(Problem::at(
                        "missing_key",
                        &org.file,
                        at(&r.source),
                        format!(
                            "Wi-Fi network `{}` is {security} and needs a `passphrase`",
                            r.address.id
                        ),
                        "no passphrase here",
                    )),
                    (true, Some(_)) => problems.push(Problem::at(
                        "not_applicable",
                        &org.file,
                        at(&format!("{}.passphrase", r.source)),
                        format!(
                            "Wi-Fi network `{}` is open: a passphrase would not be used",
                            r.address.id
                        ),
                        "not used on an open network",
                    )),
                    (false, Some(name)) => {
                        if let Ok(value) = secrets.resolve(name)
                            && let Some(v) =
                                refused(&fields::WLAN, &json!({"x_passphrase": value.expose()}))
                        {
                            problems.push(Problem::at(
                                "controller_refuses",
                                &org.file,
                                at(&format!("{}.passphrase", r.source)),
                                format!(
                                    "the value of secret `{name}` is not a passphrase the UniFi controller takes (`{}` must match `{}`)",
                                    v.field, v.pattern
                                ),
                                "this passphrase",
                            ));
                        }
                    }
                    (true, None) => {}
                }
                if let Some(v) = refused(&fields::WLAN, &json!({"name": r.address.id})) {
                    problems.push(Problem::at(
                        "controller_refuses",
                        &org.file,
                        at(&format!("{}.ssid", r.source)),
                        format!("the UniFi controller does not take this network name (`{}` must match `{}`)", v.field, v.pattern),
                        "this name",
                    ));
                }
            }
            U::Site | U::Device => {}
        }
    }
    problems
}

impl Provider for Unifi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn used_by(&self, org: &Org) -> bool {
        site_resource(org).is_some()
    }

    fn refresh<'a>(
        &'a self,
        org: &'a Arc<Org>,
        session: Option<providers::Session>,
    ) -> BoxFuture<'a, Result<Refresh, ProviderError>> {
        Box::pin(async move {
            // Apply reads again (its site may have been changed since the plan); the
            // login and the list of sites are the run's, read once.
            drop(session);
            let controller = self.controller().await?;
            let sites = self.sites(&controller).await?;
            let mine: Vec<&SiteInfo> = sites.classic.iter().filter(|s| s.desc == org.id).collect();
            if mine.len() > 1 {
                return Err(ProviderError::Refused(format!(
                    "{} sites of the UniFi controller are described `{}` ({}): Steward cannot tell which is the org's and reads and changes none of them; give all but one another description in the controller",
                    mine.len(),
                    org.id,
                    mine.iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let mut live = LiveState::default();
            let mut session = OrgSite {
                controller: controller.clone(),
                site: Mutex::new(None),
                networks: Mutex::new(BTreeMap::new()),
                default_network: None,
                wlans: BTreeMap::new(),
                devices: Vec::new(),
            };
            if let Some(site) = mine.first() {
                let base = format!("/api/s/{}", site.name);
                let uuid = sites.uuids.get(&site.name).map(String::as_str);
                let (wlan_path, network_path) = (
                    format!("{base}/rest/wlanconf"),
                    format!("{base}/rest/networkconf"),
                );
                let (wlans, networks, devices) = tokio::join!(
                    controller.classic(Method::GET, &wlan_path, None),
                    controller.classic(Method::GET, &network_path, None),
                    controller.devices(site, uuid),
                );
                let (wlans, networks, mut devices) = (wlans?, networks?, devices?);
                if let Some(uuid) = uuid {
                    devices.extend(
                        sites
                            .pending
                            .iter()
                            .filter(|(to, _)| to.iter().any(|s| s == uuid))
                            .map(|(_, d)| d.clone()),
                    );
                }
                live.objects.insert(
                    U::Site.at(&org.id),
                    LiveObject {
                        attrs: attrs(&[("site", json!(org.id))]),
                    },
                );
                let mut by_vlan = BTreeMap::new();
                for n in &networks {
                    if let (Some(vlan), Some(id)) = (vlan_of(n), n["_id"].as_str()) {
                        by_vlan.entry(vlan).or_insert_with(|| id.to_string());
                        live.objects.insert(
                            U::Network.at(vlan.to_string()),
                            LiveObject {
                                attrs: attrs(&[("site", json!(org.id)), ("vlan", json!(vlan))]),
                            },
                        );
                    }
                }
                session.default_network = networks
                    .iter()
                    .find(|n| n["purpose"] == "corporate" && vlan_of(n).is_none())
                    .and_then(|n| n["_id"].as_str())
                    .map(str::to_string);
                for w in &wlans {
                    let attrs = live_wlan(w, org, &networks, &self.secrets);
                    let ssid = attrs.str("ssid").to_string();
                    if let Some(id) = w["_id"].as_str() {
                        session.wlans.insert(ssid.clone(), id.to_string());
                    }
                    live.objects.insert(U::Wlan.at(ssid), LiveObject { attrs });
                }
                for d in devices {
                    let id = if d.name.is_empty() {
                        d.mac.clone()
                    } else {
                        d.name.clone()
                    };
                    session.devices.push((
                        U::Device.at(id),
                        attrs(&[
                            ("mac", json!(d.mac)),
                            ("state", json!(state_text(&d.state))),
                            ("upgradable", json!(d.upgradable)),
                            ("version", json!(d.version)),
                        ]),
                    ));
                }
                session.networks = Mutex::new(by_vlan);
                session.site = Mutex::new(Some((*site).clone()));
            }
            Ok(Refresh {
                live,
                unmanaged: Vec::new(),
                unreadable: BTreeMap::new(),
                session: Arc::new(session),
                observed: None,
            })
        })
    }

    fn desired(&self, _org: &Org, r: &Resource) -> Attrs {
        let mut a = r.attrs.clone();
        if U::of(r.address.kind) == Some(U::Wlan) {
            if a.str("band") == "auto" || a.get("band").is_none() {
                a.insert("band", json!("both"));
            }
            if a.get("vlan").is_none() {
                a.insert("vlan", Value::Null);
            }
            for (k, v) in [("guest", false), ("hidden", false)] {
                if a.get(k).is_none() {
                    a.insert(k, json!(v));
                }
            }
            a.insert("enabled", json!(true));
            if r.secrets.contains_key("passphrase") {
                a.insert("passphrase", json!(SAME_PASSPHRASE));
            }
        }
        a
    }

    fn review(
        &self,
        org: &Org,
        refresh: &Refresh,
        live: &LiveState,
        changes: &mut Vec<Change>,
    ) -> Review {
        let mut review = Review::default();
        let Some(site) = site_resource(org) else {
            return review;
        };
        let module = site.module.clone();
        let remove = org
            .setting(&module, "other_networks")
            .and_then(Value::as_str)
            == Some("remove");
        let undeclared = live
            .objects
            .keys()
            .filter(|a| U::of(a.kind) == Some(U::Wlan) && org.resource(a).is_none());
        for address in undeclared {
            if remove {
                changes.push(Change {
                    address: address.clone(),
                    module: module.clone(),
                    action: Action::Delete,
                    fields: vec![],
                    reason: Some("not in the org file, and `other_networks: remove`".into()),
                    source: Some(source_of(org, &format!("modules.{module}.other_networks"))),
                    depends_on: vec![],
                    destructive: true,
                    triggered_by: Vec::new(),
                });
            } else {
                review.unmanaged.push(address.clone());
            }
        }
        let devices = refresh
            .session
            .downcast_ref::<OrgSite>()
            .map_or(&[][..], |s| &s.devices[..]);
        for (address, obj_attrs) in devices {
            let mac = obj_attrs.str("mac");
            let name = if address.id == mac {
                format!("`{mac}`")
            } else {
                format!("`{}` ({mac})", address.id)
            };
            let state = obj_attrs.str("state");
            let mut found = |code: &str, message: String| {
                review.unhealthy.push(Unhealthy {
                    address: address.clone(),
                    module: module.clone(),
                    code: code.into(),
                    message,
                    source: Some(source_of(org, &site.source)),
                });
            };
            match state {
                "online" => {}
                "offline" => found(
                    "ap_offline",
                    format!("access point {name} is offline: the controller cannot reach it"),
                ),
                "pending adoption" => found(
                    "ap_pending_adoption",
                    format!("access point {name} is waiting to be adopted to the site"),
                ),
                other => found("ap_state", format!("access point {name} is {other}")),
            }
            if obj_attrs.get("upgradable") == Some(&json!(true)) {
                found(
                    "ap_firmware",
                    format!(
                        "access point {name} runs firmware {} and the controller has an update for it",
                        obj_attrs.str("version")
                    ),
                );
            }
        }
        // Passphrase fields are shown as what they are: the file's, or not.
        for c in changes
            .iter_mut()
            .filter(|c| U::of(c.address.kind) == Some(U::Wlan))
        {
            for f in c.fields.iter_mut().filter(|f| f.name == "passphrase") {
                f.secret = true;
            }
        }
        review
    }

    fn apply<'a>(
        &'a self,
        session: &'a providers::Session,
        ctx: &'a ApplyCtx,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let Some(s) = session.downcast_ref::<OrgSite>() else {
                return Err(ProviderError::Internal("not a UniFi session".into()));
            };
            apply(s, ctx, change).await
        })
    }

    fn stats(&self) -> Option<String> {
        let c = match self.controller.get() {
            Some(Ok(c)) => c,
            _ => return None,
        };
        let s = &c.http.stats;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        Some(format!(
            "UniFi controller {} ({}{}): API requests {} (login {}, read {}, write {}; retries {})",
            c.version,
            match c.flavour {
                super::client::Flavour::Classic => "Network Application",
                super::client::Flavour::UnifiOs => "UniFi OS",
            },
            if c.integration {
                ", integration API"
            } else {
                ""
            },
            load(&s.login) + load(&s.read) + load(&s.write),
            load(&s.login),
            load(&s.read),
            load(&s.write),
            load(&s.retries),
        ))
    }

    fn notes(&self) -> Vec<String> {
        let unmanaged = self.unmanaged_sites();
        if unmanaged.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "UniFi sites no org file is named after, left alone (unmanaged): {}",
            unmanaged.join(", ")
        )]
    }
}

/// The site's short name, once it exists.
fn site_name(s: &OrgSite) -> Result<String, ProviderError> {
    s.site
        .lock()
        .ok()
        .and_then(|g| g.as_ref().map(|i| i.name.clone()))
        .ok_or_else(|| ProviderError::Internal("the org's UniFi site is not known yet".into()))
}

async fn apply(s: &OrgSite, ctx: &ApplyCtx, change: &Change) -> Result<(), ProviderError> {
    let c = &s.controller;
    let org = &ctx.org;
    let u = U::of(change.address.kind).ok_or_else(|| {
        ProviderError::Internal(format!("{} is not a UniFi kind", change.address))
    })?;
    match (u, change.action) {
        (U::Site, Action::Create) => {
            let site = c.add_site(&org.id).await?;
            if let Ok(mut g) = s.site.lock() {
                *g = Some(site);
            }
            Ok(())
        }
        (U::Network, Action::Create) => {
            let vlan: i64 = change.address.id.parse().map_err(|_| {
                ProviderError::Internal(format!("VLAN `{}` is not a number", change.address.id))
            })?;
            let body = json!({
                "name": format!("VLAN {vlan}"),
                "purpose": "vlan-only",
                "vlan_enabled": true,
                "vlan": vlan,
                "enabled": true,
            });
            held_to_definitions(&fields::NETWORK, &body, "VLAN network")?;
            let site = site_name(s)?;
            let made = c
                .classic(
                    Method::POST,
                    &format!("/api/s/{site}/rest/networkconf"),
                    Some(&body),
                )
                .await?;
            let id = made
                .first()
                .and_then(|n| n["_id"].as_str())
                .ok_or_else(|| {
                    ProviderError::Remote("the controller made the network but gave no id".into())
                })?;
            if let Ok(mut g) = s.networks.lock() {
                g.insert(vlan, id.to_string());
            }
            Ok(())
        }
        (U::Wlan, Action::Create | Action::Update) => {
            let r = org.resource(&change.address).ok_or_else(|| {
                ProviderError::Internal(format!("{} is not in the org file", change.address))
            })?;
            let passphrase = match r.secrets.get("passphrase") {
                Some(name) => Some(
                    ctx.secrets
                        .resolve(name)
                        .map_err(|e| ProviderError::Config(e.to_string()))?,
                ),
                None => None,
            };
            let network = match r.attrs.get("vlan").and_then(Value::as_i64) {
                Some(vlan) => Some(
                    s.networks
                        .lock()
                        .ok()
                        .and_then(|g| g.get(&vlan).cloned())
                        .ok_or_else(|| {
                            ProviderError::Internal(format!("no network for VLAN {vlan}"))
                        })?,
                ),
                None => s.default_network.clone(),
            };
            let body = wlan_body(
                r,
                passphrase.as_ref().map(|p| p.expose()),
                network.as_deref(),
            )?;
            let site = site_name(s)?;
            let path = match (change.action, s.wlans.get(&change.address.id)) {
                (Action::Update, Some(id)) => format!("/api/s/{site}/rest/wlanconf/{id}"),
                (Action::Update, None) => {
                    return Err(ProviderError::Internal(format!(
                        "{} has no id from the refresh",
                        change.address
                    )));
                }
                _ => format!("/api/s/{site}/rest/wlanconf"),
            };
            let method = if change.action == Action::Create {
                Method::POST
            } else {
                Method::PUT
            };
            c.classic(method, &path, Some(&body)).await?;
            Ok(())
        }
        (U::Wlan, Action::Delete) => {
            let site = site_name(s)?;
            let id = s.wlans.get(&change.address.id).ok_or_else(|| {
                ProviderError::Internal(format!("{} has no id from the refresh", change.address))
            })?;
            c.classic(
                Method::DELETE,
                &format!("/api/s/{site}/rest/wlanconf/{id}"),
                None,
            )
            .await?;
            Ok(())
        }
        (u, action) => Err(ProviderError::Internal(format!(
            "no {action:?} for a {u:?} ({})",
            change.address
        ))),
    }
}

fn attrs(pairs: &[(&'static str, Value)]) -> Attrs {
    let mut a = Attrs::default();
    for (k, v) in pairs {
        a.insert(k, v.clone());
    }
    a
}

/// A device's state as health and reports say it.
fn state_text(d: &DeviceState) -> String {
    match d {
        DeviceState::Online => "online".into(),
        DeviceState::Offline => "offline".into(),
        DeviceState::PendingAdoption => "pending adoption".into(),
        DeviceState::Other(s) => s.clone(),
    }
}
