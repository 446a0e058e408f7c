//! A mutation fuzzer for the org-file loader, in process: seeded with the example orgs
//! and the on-site fixtures, it mutates them (YAML tokens, aliases, nesting, documents,
//! BOMs, bytes that are not UTF-8, control characters, placeholders) and loads each
//! result as `validate` does. Whatever loads is also planned against an empty live
//! state. A panic, an input that takes over 2 s, or a process over 1 GiB fails the run
//! and the input is kept in `target/fuzz-failures/`.
//!
//! The suite runs it for `STEWARD_FUZZ_SECS` (default 15) seconds; the long run is
//! `STEWARD_FUZZ_SECS=600 cargo test --release --test cli fuzz -- --nocapture`
//! (figures in BENCHMARKS.md). `STEWARD_FUZZ_SEED` repeats a run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use steward::modules::Catalogue;
use steward::pool::Pool;
use steward::secrets::Secrets;

use crate::support::{Env, repo};

const TOKENS: &[&[u8]] = &[
    b"&a ",
    b"*a",
    b"&b [*a, *a, *a, *a, *a, *a, *a, *a]",
    b"*b",
    b"[",
    b"]",
    b"{",
    b"}",
    b"- ",
    b": ",
    b"---\n",
    b"...\n",
    b"\xef\xbb\xbf",
    b"\"",
    b"'",
    b"\n",
    b"  ",
    b"!!str ",
    b"!!binary ",
    b"? ",
    b"|\n",
    b">-\n",
    b"# ",
    b"secret:",
    b"((secret:x/y))",
    b"{{x}}",
    b"\t",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\r\n",
    b"%YAML 1.2\n",
    b"null",
    b"~",
    b"1e999",
    b"-9223372036854775809",
    b"<<: *a\n",
    b"\xe2\x80\xa8",
    b"::",
    b"@",
    b"/",
    b"..",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: fast and repeatable from the seed.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 | 2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            3 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at.min(end)..end);
            }
            4 if !v.is_empty() => {
                // Repeat a slice, sometimes many times (big or deep inputs).
                let end = (at + 1 + rng.below(32)).min(v.len());
                let piece = v[at.min(end)..end].to_vec();
                let times = if rng.below(10) == 0 {
                    1 + rng.below(2000)
                } else {
                    1
                };
                for _ in 0..times {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let end = (from + rng.below(200)).min(other.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let depth = 1 + rng.below(200);
                let open: Vec<u8> = std::iter::repeat_n(b'[', depth).collect();
                v.splice(at..at, open);
            }
        }
    }
    v.truncate(1 << 20);
    v
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[test]
fn the_org_loader_survives_mutated_files() {
    let secs: u64 = std::env::var("STEWARD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let seed: u64 = std::env::var("STEWARD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| steward::util::unix_now() | 1);
    let env = Env::examples();
    env.run(&["lab", "init"]);
    for (name, value) in [
        ("riverside/wifi", "a-wifi-passphrase"),
        ("riverside/restic", "a-restic-password"),
    ] {
        env.write(&format!("secrets/{name}"), value);
    }
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for e in std::fs::read_dir(repo().join("orgs")).expect("orgs") {
        seeds.push(std::fs::read(e.expect("entry").path()).expect("read"));
    }
    seeds.push(b"org: riverside\nname: Riverside\nhosts:\n  pc: {address: 192.0.2.5, user: steward}\n  ap: {address: 192.0.2.6}\nmodules:\n  base: {packages: [htop]}\n  printers:\n    server: pc\n    queues:\n      - {name: front, uri: \"ipp://192.0.2.20/ipp/print\", description: Front, location: Hall, options: {PageSize: A4}}\n  backups:\n    - {name: shared, host: pc, paths: [/srv/shared], repository: \"sftp:restic@192.0.2.30:/srv/restic/r\", password: secret:riverside/restic, schedule: \"*-*-* 02:00\", keep: {daily: 7}, stale_after: 2d}\n  wifi:\n    access_points: [ap]\n    country: GB\n    networks:\n      - {ssid: Staff, security: wpa2-wpa3, passphrase: secret:riverside/wifi, guest: true, vlan: 20}\n".to_vec());
    let pool = Pool::load(env.dir.path()).expect("pool");
    let (catalogue, problems) = Catalogue::load(&env.path("modules"));
    assert!(problems.is_empty(), "{problems:?}");
    let secrets = Secrets::new(&pool.secrets_dir(), &pool.config.secrets.env_prefix);
    let providers = steward::providers::start(&pool, &secrets).expect("providers");
    let path = env.path("orgs/riverside.yaml");
    let failures = repo().join("target/fuzz-failures");

    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut loaded, mut slowest) = (0u64, 0u64, Duration::ZERO);
    let mut peak = 0;
    let mut corpus = seeds.clone();
    let fail = |why: String, input: &[u8]| -> ! {
        let _ = std::fs::create_dir_all(&failures);
        let file = failures.join(format!("{seed}-{}.yaml", steward::util::unix_now()));
        let _ = std::fs::write(&file, input);
        panic!("{why} (seed {seed}; input kept in {})", file.display());
    };
    while Instant::now() < deadline {
        let base = corpus[rng.below(corpus.len())].clone();
        let input = mutate(&mut rng, &base, &seeds);
        std::fs::write(&path, &input).expect("write");
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let r = steward::org::load(&pool, &catalogue, &secrets, &path);
            if let Ok(org) = &r {
                let _ = steward::engine::plan_offline(&providers, org);
            }
            r.is_ok()
        }));
        let took = started.elapsed();
        runs += 1;
        slowest = slowest.max(took);
        match outcome {
            Err(_) => fail("the loader panicked".into(), &input),
            Ok(ok) => {
                if ok {
                    loaded += 1;
                    // Inputs that still load are good ground for further mutation.
                    if corpus.len() < 500 {
                        corpus.push(input.clone());
                    }
                }
            }
        }
        if took > Duration::from_secs(2) {
            fail(format!("one input took {took:?}"), &input);
        }
        if runs % 64 == 0 {
            peak = peak.max(rss_mib());
            if peak > 1024 {
                fail(format!("the process grew to {peak} MiB"), &input);
            }
        }
    }
    eprintln!(
        "fuzz: seed {seed}, {runs} inputs in {secs} s, {loaded} loaded and planned, slowest {slowest:?}, peak RSS {peak} MiB, 0 failures"
    );
    assert!(runs > 100, "the fuzzer ran only {runs} inputs");
}
