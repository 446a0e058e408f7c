//! `steward import`: an org that already exists, taken into the pool. Reads the live
//! systems with the calls a plan makes and writes a complete, valid org file whose
//! first plan changes nothing live (only Steward's marker is added as each account is
//! adopted). What the modules cannot express is listed at the top of the file and in
//! the summary, each with why.

pub mod emit;

use std::path::PathBuf;

use serde_json::Value;

use crate::diag::Problems;
use crate::modules::Catalogue;
use crate::pool::Pool;
use crate::providers::{google, ssh};
use crate::secrets::Secrets;

/// What to import, as the command line says it.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The new org's id: its file is orgs/ORG.yaml.
    pub org: String,
    /// The org's Google Workspace domain (repeat for each; the first is its primary).
    #[arg(long = "google", value_name = "DOMAIN")]
    pub google: Vec<String>,
    /// The Google Workspace customer id (Admin console: Account > Account settings).
    #[arg(long, value_name = "ID", requires = "google")]
    pub customer: Option<String>,
    /// An administrator of the tenant, whom Steward acts as.
    #[arg(long, value_name = "EMAIL", requires = "google")]
    pub admin: Option<String>,
    /// The service-account key, `secret:ORG/NAME`.
    #[arg(long, value_name = "secret:NAME", requires = "google")]
    pub credentials: Option<String>,
    /// An on-site host to read, `NAME=ADDRESS[:PORT][,user=U]` (repeatable): its print
    /// queues, backup jobs and Wi-Fi.
    #[arg(long, value_name = "NAME=ADDRESS")]
    pub host: Vec<String>,
    /// The org's name for people (default: from its id).
    #[arg(long)]
    pub name: Option<String>,
    /// Replace orgs/ORG.yaml when it exists.
    #[arg(long, conflicts_with = "unmanaged")]
    pub force: bool,
    /// For an org already in the pool: print the YAML of the users and groups its
    /// tenant holds and its file does not declare (the drift report's unmanaged).
    #[arg(long, conflicts_with = "google")]
    pub unmanaged: bool,
    /// With --unmanaged: append them to the org file's lists instead of printing them.
    #[arg(long, requires = "unmanaged")]
    pub write: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The command line or the pool: nothing was read.
    #[error("{0}")]
    Usage(String),
    /// The service refused or failed: nothing was written.
    #[error("{0}")]
    Remote(String),
    /// The org file Steward made does not validate (a bug: it is not written).
    #[error("the imported org file would not validate; it was not written")]
    Invalid(Problems),
    #[error("cannot write {path}: {why}")]
    Write { path: String, why: String },
}

/// What an import wrote and what it left as it is.
#[derive(Debug)]
pub struct Imported {
    pub file: PathBuf,
    pub counts: Vec<(&'static str, usize)>,
    pub left_out: Vec<(String, String)>,
    pub requests: u64,
    /// Secret files written (shown relative to the pool).
    pub secrets_written: Vec<String>,
}

/// An org id as a title: `riverside-food-bank` is `Riverside Food Bank`.
fn title(id: &str) -> String {
    id.split(['-', '_', '.'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Google half of an import: the tenant as the command line names it.
struct GoogleSource {
    tenant: google::section::GoogleTenant,
    /// As given: `secret:NAME`.
    credentials: String,
}

fn google_source(org: &str, args: &ImportArgs) -> Result<Option<GoogleSource>, ImportError> {
    if args.google.is_empty() {
        return Ok(None);
    }
    let need = |v: &Option<String>, flag: &str| {
        v.clone()
            .ok_or_else(|| ImportError::Usage(format!("--google needs {flag}")))
    };
    let customer = need(&args.customer, "--customer ID")?;
    let admin = need(&args.admin, "--admin EMAIL")?.to_ascii_lowercase();
    let credentials = need(&args.credentials, "--credentials secret:NAME")?;
    let secret = crate::secrets::reference(&credentials).ok_or_else(|| {
        ImportError::Usage(format!(
            "--credentials `{credentials}` is not a secret reference: write secret:{org}/NAME"
        ))
    })?;
    Ok(Some(GoogleSource {
        tenant: google::section::GoogleTenant {
            domains: args.google.iter().map(|d| d.to_ascii_lowercase()).collect(),
            customer_id: customer,
            admin,
            credentials: secret.to_string(),
        },
        credentials,
    }))
}

/// The tenant as the accounts module's inputs, read with the pool's Google settings.
async fn read_tenant(
    pool: &Pool,
    secrets: &Secrets,
    tenant: &google::section::GoogleTenant,
    org: &str,
) -> Result<google::import::Accounts, ImportError> {
    let config: google::config::GoogleConfig = pool.provider_settings(google::NAME);
    let http = google::client::Http::new(&config).map_err(|e| ImportError::Usage(e.to_string()))?;
    google::import::read(&http, tenant, secrets, org)
        .await
        .map_err(|e| ImportError::Remote(e.to_string()))
}

/// `NAME=ADDRESS[:PORT][,user=U]`.
fn parse_host(text: &str) -> Result<ssh::section::Host, ImportError> {
    let bad = |why: &str| {
        ImportError::Usage(format!(
            "--host `{text}`: {why} (the form is NAME=ADDRESS[:PORT][,user=U])"
        ))
    };
    let (name, rest) = text.split_once('=').ok_or_else(|| bad("no `=`"))?;
    if !crate::schema::is_name(name) {
        return Err(bad(
            "the host name takes letters, digits, `-`, `_` and `.` only",
        ));
    }
    let mut parts = rest.split(',');
    let target = parts.next().unwrap_or_default();
    let (address, port) = match target.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') => (
            a.to_string(),
            p.parse::<u16>()
                .map_err(|_| bad("the port is not a number"))?,
        ),
        _ => (target.to_string(), 22),
    };
    if !crate::schema::is_address(&address) {
        return Err(bad("not a host name or IP address"));
    }
    let mut user = "root".to_string();
    for p in parts {
        match p.split_once('=') {
            Some(("user", u)) if crate::schema::is_name(u) => user = u.to_string(),
            _ => return Err(bad(&format!("unknown option `{p}`"))),
        }
    }
    Ok(ssh::section::Host {
        name: name.to_string(),
        address,
        user,
        port,
    })
}

/// Imports an org: reads, writes its file (atomically, only when it validates).
pub async fn import(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    args: &ImportArgs,
) -> Result<Imported, ImportError> {
    let org = args.org.as_str();
    if !crate::schema::is_name(org) || org.starts_with('.') {
        return Err(ImportError::Usage(format!(
            "`{org}` cannot be an org id: letters, digits, `-`, `_` and `.` only"
        )));
    }
    let path = pool.orgs_dir().join(format!("{org}.yaml"));
    let shown = pool.display_path(&path).display().to_string();
    if path.exists() && !args.force {
        return Err(ImportError::Usage(format!(
            "{shown} exists already: an import never overwrites an org file unless told to (--force)"
        )));
    }
    let source = google_source(org, args)?;
    let hosts: Vec<ssh::section::Host> = args
        .host
        .iter()
        .map(|h| parse_host(h))
        .collect::<Result<_, _>>()?;
    if source.is_none() && hosts.is_empty() {
        return Err(ImportError::Usage(
            "nothing to import: give the org's Google Workspace (--google DOMAIN --customer ID --admin EMAIL --credentials secret:NAME) and/or its hosts (--host NAME=ADDRESS)".into(),
        ));
    }
    // Hosts are read on threads of their own (SSH is blocking) while Google is read.
    let reads = if hosts.is_empty() {
        None
    } else {
        let config: ssh::config::SshConfig = pool.provider_settings(ssh::NAME);
        let settings = ssh::Settings::from_config(pool, &config)
            .map_err(|e| ImportError::Usage(format!("cannot read the pool's SSH settings: {e}")))?;
        let org = org.to_string();
        let hosts = hosts.clone();
        Some(tokio::task::spawn_blocking(move || {
            std::thread::scope(|scope| {
                let handles: Vec<_> = hosts
                    .iter()
                    .map(|h| scope.spawn(|| ssh::import::read(&settings, h, &org)))
                    .collect();
                handles
                    .into_iter()
                    .zip(&hosts)
                    .map(|(t, h)| {
                        t.join().unwrap_or_else(|_| {
                            Err(ssh::SshError::Failed {
                                host: h.name.clone(),
                                message: "reading it failed (a bug: please report it)".into(),
                            })
                        })
                    })
                    .collect::<Vec<_>>()
            })
        }))
    };
    let accounts = match &source {
        Some(g) => Some(read_tenant(pool, secrets, &g.tenant, org).await?),
        None => None,
    };
    let mut found = Found::default();
    if let Some(reads) = reads {
        let results = reads
            .await
            .map_err(|e| ImportError::Remote(format!("reading the hosts failed: {e}")))?;
        for (host, result) in hosts.iter().zip(results) {
            match result {
                Ok(h) => found.hosts.push((host.clone(), h)),
                Err(e) => found.left_out.push((
                    format!("host {} ({})", host.name, host.address),
                    format!("not imported: {e}"),
                )),
            }
        }
    }
    if let Some(a) = &accounts {
        found.left_out.splice(0..0, a.left_out.iter().cloned());
    }
    let name = args.name.clone().unwrap_or_else(|| title(org));
    let (text, new_secrets) = org_file(
        pool,
        org,
        &name,
        source.as_ref(),
        accounts.as_ref(),
        &mut found,
    );
    // Checked as `validate` would check it, before anything is written.
    crate::org::load_text(pool, catalogue, secrets, &path, text.clone())
        .map_err(ImportError::Invalid)?;
    // Secret values found go to the secrets folder, never into the file.
    for (secret, value) in &new_secrets {
        let file = secrets.file(secret);
        match std::fs::read_to_string(&file) {
            Ok(have) if have.trim_end_matches(['\n', '\r']) == value.expose() => continue,
            Ok(_) => {
                found.left_out.push((
                    format!("secret {secret}"),
                    format!(
                        "{} holds another value already: left as it is (check which one is right)",
                        pool.display_path(&file).display()
                    ),
                ));
                continue;
            }
            Err(_) => {}
        }
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ImportError::Write {
                path: dir.display().to_string(),
                why: e.to_string(),
            })?;
        }
        crate::util::write_atomic(&file, value.expose().as_bytes(), 0o600).map_err(|e| {
            ImportError::Write {
                path: pool.display_path(&file).display().to_string(),
                why: e.to_string(),
            }
        })?;
        found
            .secrets_written
            .push(pool.display_path(&file).display().to_string());
    }
    crate::util::write_atomic(&path, text.as_bytes(), 0o644).map_err(|e| ImportError::Write {
        path: shown,
        why: e.to_string(),
    })?;
    let mut counts = Vec::new();
    if let Some(a) = &accounts {
        counts.extend([
            ("org units", a.org_units.len()),
            ("groups", a.groups.len()),
            ("users", a.users.len()),
        ]);
    }
    if !hosts.is_empty() {
        counts.extend([
            ("hosts", found.hosts.len()),
            (
                "print queues",
                found.hosts.iter().map(|(_, h)| h.queues.len()).sum(),
            ),
            (
                "backup jobs (commented out)",
                found.hosts.iter().map(|(_, h)| h.jobs.len()).sum(),
            ),
            (
                "Wi-Fi access points (commented out)",
                found.hosts.iter().filter(|(_, h)| h.wifi.is_some()).count(),
            ),
        ]);
    }
    Ok(Imported {
        file: pool.display_path(&path),
        counts,
        left_out: found.left_out,
        requests: accounts.as_ref().map_or(0, |a| a.requests),
        secrets_written: found.secrets_written,
    })
}

/// What the hosts held, and what is left out.
#[derive(Default)]
struct Found {
    hosts: Vec<(ssh::section::Host, ssh::import::HostImport)>,
    left_out: Vec<(String, String)>,
    secrets_written: Vec<String>,
}

/// The org file's text, in the order and style of the example org files, and the
/// secret values to write.
fn org_file(
    pool: &Pool,
    org: &str,
    name: &str,
    source: Option<&GoogleSource>,
    accounts: Option<&google::import::Accounts>,
    found: &mut Found,
) -> (String, Vec<(String, crate::secrets::Secret)>) {
    use emit::{flow, scalar};
    let mut secrets = Vec::new();
    // The on-site modules: one print server (the first host with queues).
    let mut server: Option<String> = None;
    let mut queues: Vec<Value> = Vec::new();
    let mut jobs: Vec<Value> = Vec::new();
    let mut wifi: Option<Value> = None;
    for (host, h) in &mut found.hosts {
        found.left_out.append(&mut h.left_out);
        if !h.queues.is_empty() {
            match &server {
                None => {
                    server = Some(host.name.clone());
                    queues = std::mem::take(&mut h.queues);
                }
                Some(s) => found.left_out.push((
                    format!("print queues on {}", host.name),
                    format!("the printers module has one print server for an org, and {s} is it; left as they are"),
                )),
            }
        }
        jobs.append(&mut h.jobs);
        match (&wifi, h.wifi.take()) {
            (None, Some(w)) => wifi = Some(w),
            (Some(_), Some(_)) => found.left_out.push((
                format!("Wi-Fi on {}", host.name),
                "its networks differ from the first access point's or repeat them: add it to `access_points` if they are the same".into(),
            )),
            _ => {}
        }
        secrets.append(&mut h.secrets);
    }

    let mut out = String::new();
    if pool.root.join("schema/org.schema.json").is_file() {
        out.push_str("# yaml-language-server: $schema=../schema/org.schema.json\n");
    }
    let from: Vec<String> = source
        .map(|g| format!("Google Workspace customer {}", g.tenant.customer_id))
        .into_iter()
        .chain((!found.hosts.is_empty()).then(|| {
            let names: Vec<&str> = found.hosts.iter().map(|(h, _)| h.name.as_str()).collect();
            format!("host(s) {}", names.join(", "))
        }))
        .collect();
    let from = if from.is_empty() {
        vec!["no host (none could be read)".to_string()]
    } else {
        from
    };
    out.push_str(&format!(
        "# Imported by `steward import` on {} from {}.\n",
        &crate::util::now_rfc3339()[..10],
        from.join(" and ")
    ));
    if found.left_out.is_empty() {
        out.push_str("# Everything found is in this file.\n");
    } else {
        out.push_str(&format!(
            "# Not imported: what the modules cannot express, each left as it is ({}):\n",
            found.left_out.len()
        ));
        for (what, why) in &found.left_out {
            out.push_str(&format!("#   - {}: {}\n", one_line(what), one_line(why)));
        }
    }
    out.push_str(&format!("org: {}\nname: {}\n", scalar(org), scalar(name)));
    out.push_str(
        "contacts: []   # who reads this org's drift report: {name, email, reports: true}\n",
    );
    if let Some(g) = source {
        out.push_str("google:\n");
        match g.tenant.domains.as_slice() {
            [one] => out.push_str(&format!("  domain: {}\n", scalar(one))),
            many => out.push_str(&format!(
                "  domains: {}\n",
                flow(&Value::from(many.to_vec()))
            )),
        }
        out.push_str(&format!(
            "  customer_id: {}\n  admin: {}\n  credentials: {}\n",
            scalar(&g.tenant.customer_id),
            scalar(&g.tenant.admin),
            scalar(&g.credentials)
        ));
    }
    if !found.hosts.is_empty() {
        out.push_str("hosts:\n");
        for (h, _) in &found.hosts {
            let mut v = serde_json::Map::new();
            v.insert("address".into(), Value::from(h.address.clone()));
            if h.port != 22 {
                v.insert("port".into(), Value::from(h.port));
            }
            if h.user != "root" {
                v.insert("user".into(), Value::from(h.user.clone()));
            }
            out.push_str(&format!(
                "  {}: {}\n",
                scalar(&h.name),
                flow(&Value::Object(v))
            ));
        }
    }
    out.push_str("modules:\n");
    if let Some(accounts) = accounts {
        out.push_str("  accounts:\n");
        if !accounts.org_units.is_empty() {
            out.push_str(&format!(
                "    org_units: {}\n",
                flow(&Value::from(accounts.org_units.clone()))
            ));
        }
        for (key, items) in [("groups", &accounts.groups), ("users", &accounts.users)] {
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("    {key}:\n"));
            for item in items {
                out.push_str(&format!("      - {}\n", flow(item)));
            }
        }
        out.push_str("    leavers: suspend\n");
    }
    if !found.hosts.is_empty() {
        // `base` marks each host as Steward's (/etc/steward/managed-by): the adoption.
        out.push_str("  base: {}\n");
    }
    if let Some(server) = &server {
        out.push_str(&format!(
            "  printers:\n    server: {}\n    queues:\n",
            scalar(server)
        ));
        for q in &queues {
            out.push_str(&format!("      - {}\n", flow(q)));
        }
    }
    if !jobs.is_empty() || wifi.is_some() {
        out.push_str(
            "  # Found, and not taken over yet: Steward would run each as its own systemd timer or\n  \
             # write its own hostapd configuration, so the first plan would change the host.\n  \
             # To take one over, stop the one made by hand, then remove the `# ` before its lines.\n  \
             # Their passwords and passphrases are in the secrets folder already.\n",
        );
        if !jobs.is_empty() {
            out.push_str("  # backups:\n");
            for j in &jobs {
                out.push_str(&format!("  #   - {}\n", flow(j)));
            }
        }
        if let Some(Value::Object(w)) = &wifi {
            out.push_str("  # wifi:\n");
            for (k, v) in emit::ordered(w) {
                if k == "networks" {
                    out.push_str("  #   networks:\n");
                    for n in v.as_array().into_iter().flatten() {
                        out.push_str(&format!("  #     - {}\n", flow(n)));
                    }
                } else {
                    out.push_str(&format!("  #   {k}: {}\n", flow(v)));
                }
            }
        }
    }
    (out, secrets)
}

/// A note on one comment line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Users and groups the tenant holds and an existing org file does not declare (the
/// drift report's unmanaged findings), as YAML items the file can take in one step.
#[derive(Debug, Default)]
pub struct Unmanaged {
    pub file: PathBuf,
    pub groups: Vec<Value>,
    pub users: Vec<Value>,
    /// With `write`: whether the file was changed.
    pub written: bool,
}

/// Finds what the org's tenant holds that its file does not declare; with `write`,
/// appends it to the file's lists (atomically, only when the result validates).
pub async fn unmanaged(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    org_id: &str,
    write: bool,
) -> Result<Unmanaged, ImportError> {
    let path = pool.orgs_dir().join(format!("{org_id}.yaml"));
    if !crate::schema::is_name(org_id) || !path.is_file() {
        return Err(ImportError::Usage(format!(
            "no org file orgs/{org_id}.yaml: `--unmanaged` completes an org that is in the pool (import it first)"
        )));
    }
    let org = crate::org::load(pool, catalogue, secrets, &path).map_err(ImportError::Invalid)?;
    let tenant = org
        .section::<google::section::GoogleTenant>(google::NAME)
        .ok_or_else(|| {
            ImportError::Usage(format!(
                "orgs/{org_id}.yaml has no `google:` section: nothing to compare"
            ))
        })?
        .clone();
    let accounts = read_tenant(pool, secrets, &tenant, org_id).await?;
    let declared = |kind: crate::resource::Kind, v: &Value| {
        let email = v["email"].as_str().unwrap_or_default().to_ascii_lowercase();
        org.resource(&crate::resource::Address { kind, id: email })
            .is_some()
    };
    let mut out = Unmanaged {
        file: pool.display_path(&path),
        groups: accounts
            .groups
            .iter()
            .filter(|g| !declared(google::kinds::GROUP, g))
            .cloned()
            .collect(),
        users: accounts
            .users
            .iter()
            .filter(|u| !declared(google::kinds::USER, u))
            .cloned()
            .collect(),
        written: false,
    };
    if !write || (out.groups.is_empty() && out.users.is_empty()) {
        return Ok(out);
    }
    let mut text = org.file.text().to_string();
    // Users after groups in the text: insert the later list first so offsets hold.
    let mut edits = Vec::new();
    for (key, items) in [("groups", &out.groups), ("users", &out.users)] {
        if !items.is_empty() {
            edits.push(insertion(&org, key, items)?);
        }
    }
    edits.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, lines) in edits {
        text.insert_str(at, &lines);
    }
    crate::org::load_text(pool, catalogue, secrets, &path, text.clone())
        .map_err(ImportError::Invalid)?;
    crate::util::write_atomic(&path, text.as_bytes(), 0o644).map_err(|e| ImportError::Write {
        path: out.file.display().to_string(),
        why: e.to_string(),
    })?;
    out.written = true;
    Ok(out)
}

/// Where and what to insert to add `items` to `modules.accounts.KEY`: after the list's
/// last item, in its indentation; or a new key at the end of `accounts:`.
fn insertion(
    org: &crate::org::Org,
    key: &str,
    items: &[Value],
) -> Result<(usize, String), ImportError> {
    let text = org.file.text();
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = |at: usize| text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
    let flow_style = || {
        ImportError::Usage(format!(
            "modules.accounts.{key} is written in flow style ([...]) in {}: append the printed items by hand",
            org.file.path.display()
        ))
    };
    if let Some(list) = org.root.at_path(&format!("modules.accounts.{key}")) {
        let Some(last) = list.items().and_then(|i| i.last()) else {
            return Err(flow_style());
        };
        if text[list.span.start..].starts_with('[') {
            return Err(flow_style());
        }
        let prefix = &text[line_start(last.span.start)..last.span.start];
        if !prefix.trim_end().ends_with('-') {
            return Err(flow_style());
        }
        let lines: String = items
            .iter()
            .map(|v| format!("{prefix}{}\n", emit::flow(v)))
            .collect();
        let mut at = line_end(last.span.start + last.span.len.saturating_sub(1));
        // A file without a newline at its end.
        let mut lines = lines;
        if at == text.len() && !text.ends_with('\n') {
            lines.insert(0, '\n');
            at = text.len();
        }
        return Ok((at, lines));
    }
    let accounts = org
        .root
        .at_path("modules.accounts")
        .and_then(|n| n.entries().filter(|e| !e.is_empty()).map(|e| (n, e)));
    let Some((node, entries)) = accounts else {
        return Err(ImportError::Usage(
            "the org file has no `modules.accounts` mapping to add to".into(),
        ));
    };
    if text[node.span.start..].starts_with('{') {
        return Err(flow_style());
    }
    let first_key = &entries[0].0;
    let indent = &text[line_start(first_key.span.start)..first_key.span.start];
    let (_, last) = &entries[entries.len() - 1];
    let at = line_end(last.span.start + last.span.len.saturating_sub(1));
    let mut lines = format!("{indent}{key}:\n");
    for v in items {
        lines.push_str(&format!("{indent}  - {}\n", emit::flow(v)));
    }
    Ok((at, lines))
}
