//! Dependency graphs (petgraph): finding cycles, and walking a graph with bounded
//! parallelism so independent branches go on when one fails.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A graph whose edges run from a dependency to what depends on it.
pub type DepGraph<N> = DiGraph<N, ()>;

/// Adds edges once each in constant time. petgraph's `update_edge` scans the source's
/// edges on every call, which is quadratic for a group with thousands of members.
#[derive(Default)]
pub struct EdgeSet(std::collections::HashSet<(NodeIndex, NodeIndex)>);

impl EdgeSet {
    pub fn add<N>(&mut self, g: &mut DepGraph<N>, from: NodeIndex, to: NodeIndex) {
        if self.0.insert((from, to)) {
            g.add_edge(from, to, ());
        }
    }
}

/// One cycle, as the nodes in order (the last leads back to the first), if there is one.
/// Self-loops count.
pub fn find_cycle<N>(g: &DepGraph<N>) -> Option<Vec<NodeIndex>> {
    for scc in tarjan_scc(g) {
        if scc.len() == 1 {
            let n = scc[0];
            if g.contains_edge(n, n) {
                return Some(vec![n]);
            }
            continue;
        }
        // Walk inside the component until a node repeats: that stretch is a cycle.
        let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let mut path = vec![scc[0]];
        let mut cur = scc[0];
        loop {
            let next = g
                .neighbors_directed(cur, Direction::Outgoing)
                .find(|n| members.contains(n))?;
            if let Some(pos) = path.iter().position(|p| *p == next) {
                return Some(path.split_off(pos));
            }
            path.push(next);
            cur = next;
        }
    }
    None
}

/// Every edge of a cycle, written `a -> b, b -> c, c -> a`.
pub fn describe_cycle(names: &[String]) -> String {
    (0..names.len())
        .map(|i| format!("{} -> {}", names[i], names[(i + 1) % names.len()]))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    Done,
    Failed(E),
    /// Not attempted because something it depends on failed (the index of that node).
    Skipped(NodeIndex),
}

/// Runs `f` on every node after all of its dependencies are done, at most `parallelism`
/// at a time. A failure skips everything downstream of it and nothing else.
/// The graph must be acyclic (checked at validation).
pub async fn walk<N, E, F, Fut>(g: &DepGraph<N>, parallelism: usize, f: F) -> Vec<Outcome<E>>
where
    F: Fn(NodeIndex) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    walk_batched(
        g,
        parallelism,
        |_| None::<()>,
        |nodes: Vec<NodeIndex>| {
            let futs: Vec<Fut> = nodes.iter().map(|n| f(*n)).collect();
            async move {
                let mut out = Vec::with_capacity(futs.len());
                for fut in futs {
                    out.push(fut.await);
                }
                out
            }
        },
    )
    .await
}

/// As [`walk`], but nodes that are ready at the same moment and share a `key` are
/// given to `f` together, as one operation (one host's changes in one round trip);
/// `f` returns a result for each, in their order. Nodes without a key go alone.
///
/// A key has one batch running at a time: what becomes ready for it meanwhile waits
/// and goes with the next. The operations of one key take turns anyway (one host, one
/// session), so waiting costs nothing and a key's batches follow its part of the
/// graph level by level, not each moment something finished.
pub async fn walk_batched<N, E, K, KF, F, Fut>(
    g: &DepGraph<N>,
    parallelism: usize,
    key: KF,
    f: F,
) -> Vec<Outcome<E>>
where
    K: Ord,
    KF: Fn(NodeIndex) -> Option<K>,
    F: Fn(Vec<NodeIndex>) -> Fut,
    Fut: Future<Output = Vec<Result<(), E>>> + Send + 'static,
    E: Send + 'static,
{
    let n = g.node_count();
    let mut outcome: Vec<Option<Outcome<E>>> = (0..n).map(|_| None).collect();
    let mut waiting: Vec<usize> = g
        .node_indices()
        .map(|i| g.neighbors_directed(i, Direction::Incoming).count())
        .collect();
    let mut ready: VecDeque<NodeIndex> = g
        .node_indices()
        .filter(|i| waiting[i.index()] == 0)
        .collect();
    let limit = Arc::new(Semaphore::new(parallelism.max(1)));
    type Done<E> = Vec<(NodeIndex, Result<(), E>)>;
    let mut running: JoinSet<Done<E>> = JoinSet::new();
    // Keys with a batch running, and what is ready for them meanwhile.
    let mut busy: std::collections::BTreeMap<K, Vec<NodeIndex>> = std::collections::BTreeMap::new();

    loop {
        // What is ready now, in batches: by key, in the order first seen.
        let mut batches: Vec<Vec<NodeIndex>> = Vec::new();
        let mut keyed: std::collections::BTreeMap<K, usize> = std::collections::BTreeMap::new();
        while let Some(node) = ready.pop_front() {
            match key(node) {
                Some(k) if busy.contains_key(&k) => {
                    if let Some(held) = busy.get_mut(&k) {
                        held.push(node);
                    }
                }
                Some(k) => match keyed.get(&k) {
                    Some(b) => batches[*b].push(node),
                    None => {
                        keyed.insert(k, batches.len());
                        batches.push(vec![node]);
                    }
                },
                None => batches.push(vec![node]),
            }
        }
        for k in keyed.into_keys() {
            busy.insert(k, Vec::new());
        }
        for nodes in batches {
            let fut = f(nodes.clone());
            let limit = limit.clone();
            running.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let results = fut.await;
                nodes.into_iter().zip(results).collect()
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let Ok(done) = joined else {
            // A panicking task is a bug; its dependents simply never become ready and are
            // reported as skipped below (its key stays busy: nothing more is sent there).
            continue;
        };
        // The key is free again: what waited for it goes next, together.
        if let Some(k) = done.first().and_then(|(node, _)| key(*node))
            && let Some(held) = busy.remove(&k)
        {
            ready.extend(held);
        }
        for (node, result) in done {
            match result {
                Ok(()) => {
                    outcome[node.index()] = Some(Outcome::Done);
                    for next in g.neighbors_directed(node, Direction::Outgoing) {
                        waiting[next.index()] -= 1;
                        if waiting[next.index()] == 0 && outcome[next.index()].is_none() {
                            ready.push_back(next);
                        }
                    }
                }
                Err(e) => {
                    outcome[node.index()] = Some(Outcome::Failed(e));
                    let mut stack: Vec<NodeIndex> =
                        g.neighbors_directed(node, Direction::Outgoing).collect();
                    while let Some(down) = stack.pop() {
                        if outcome[down.index()].is_none() {
                            outcome[down.index()] = Some(Outcome::Skipped(node));
                            stack.extend(g.neighbors_directed(down, Direction::Outgoing));
                        }
                    }
                }
            }
        }
    }
    outcome
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.unwrap_or(Outcome::Skipped(NodeIndex::new(i))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn cycles_are_found_with_every_edge() {
        let mut g: DepGraph<&str> = DiGraph::new();
        let a = g.add_node("a");
        let b = g.add_node("b");
        let c = g.add_node("c");
        let d = g.add_node("d");
        g.add_edge(a, b, ());
        g.add_edge(b, c, ());
        g.add_edge(c, a, ());
        g.add_edge(c, d, ());
        let cycle = find_cycle(&g).expect("cycle");
        let names: Vec<String> = cycle.iter().map(|i| g[*i].to_string()).collect();
        assert_eq!(names.len(), 3);
        let text = describe_cycle(&names);
        for edge in ["a -> b", "b -> c", "c -> a"] {
            assert!(text.contains(edge), "{text}");
        }
        g.remove_edge(g.find_edge(c, a).expect("edge"));
        assert!(find_cycle(&g).is_none());
    }

    #[tokio::test]
    async fn a_failure_skips_only_what_depends_on_it() {
        // a -> b -> c, and d independent
        let mut g: DepGraph<&str> = DiGraph::new();
        let a = g.add_node("a");
        let b = g.add_node("b");
        let c = g.add_node("c");
        let d = g.add_node("d");
        g.add_edge(a, b, ());
        g.add_edge(b, c, ());
        let order = Arc::new(Mutex::new(Vec::new()));
        let names: Vec<&str> = g.node_weights().copied().collect();
        let out = walk(&g, 2, |i| {
            let name = names[i.index()];
            let order = order.clone();
            async move {
                order.lock().map_err(|_| "poisoned")?.push(name);
                if name == "b" { Err("boom") } else { Ok(()) }
            }
        })
        .await;
        assert_eq!(out[a.index()], Outcome::Done);
        assert_eq!(out[b.index()], Outcome::Failed("boom"));
        assert_eq!(out[c.index()], Outcome::Skipped(b));
        assert_eq!(out[d.index()], Outcome::Done);
        let order = order.lock().expect("lock");
        let pos = |n| order.iter().position(|x| *x == n);
        assert!(pos("a") < pos("b"));
        assert_eq!(pos("c"), None);
    }

    #[tokio::test]
    async fn nodes_ready_together_with_one_key_go_as_one_batch() {
        // p1, p2 (host a) and p3 (host b) first; q1, q2 (host a) need p1; r needs q1.
        let mut g: DepGraph<(&str, Option<&str>)> = DiGraph::new();
        let p1 = g.add_node(("p1", Some("a")));
        g.add_node(("p2", Some("a")));
        g.add_node(("p3", Some("b")));
        let q1 = g.add_node(("q1", Some("a")));
        let q2 = g.add_node(("q2", Some("a")));
        let r = g.add_node(("r", None));
        g.add_edge(p1, q1, ());
        g.add_edge(p1, q2, ());
        g.add_edge(q1, r, ());
        let batches = Arc::new(Mutex::new(Vec::new()));
        let weights: Vec<(&str, Option<&str>)> = g.node_weights().copied().collect();
        let out = walk_batched(
            &g,
            4,
            |i| weights[i.index()].1,
            |nodes: Vec<NodeIndex>| {
                let names: Vec<&str> = nodes.iter().map(|n| weights[n.index()].0).collect();
                let batches = batches.clone();
                async move {
                    let results = names
                        .iter()
                        .map(|n| if *n == "q1" { Err("boom") } else { Ok(()) })
                        .collect();
                    batches.lock().expect("lock").push(names);
                    results
                }
            },
        )
        .await;
        let mut batches = batches.lock().expect("lock").clone();
        batches.iter_mut().for_each(|b| b.sort());
        batches.sort();
        assert_eq!(
            batches,
            vec![vec!["p1", "p2"], vec!["p3"], vec!["q1", "q2"]]
        );
        assert_eq!(out[q1.index()], Outcome::Failed("boom"));
        assert_eq!(out[q2.index()], Outcome::Done);
        assert_eq!(out[r.index()], Outcome::Skipped(q1));
    }

    #[tokio::test]
    async fn what_becomes_ready_while_its_key_is_busy_goes_with_the_next_batch() {
        // a1 (host a, slow) -> a3; b1 (host b, quick) -> a2. a2 is ready while a1 runs:
        // it waits, and goes with a3 in one batch.
        let mut g: DepGraph<(&str, &str)> = DiGraph::new();
        let a1 = g.add_node(("a1", "a"));
        let a2 = g.add_node(("a2", "a"));
        let a3 = g.add_node(("a3", "a"));
        let b1 = g.add_node(("b1", "b"));
        g.add_edge(a1, a3, ());
        g.add_edge(b1, a2, ());
        let batches = Arc::new(Mutex::new(Vec::new()));
        let weights: Vec<(&str, &str)> = g.node_weights().copied().collect();
        let out = walk_batched(
            &g,
            4,
            |i| Some(weights[i.index()].1),
            |nodes: Vec<NodeIndex>| {
                let mut names: Vec<&str> = nodes.iter().map(|n| weights[n.index()].0).collect();
                names.sort();
                let batches = batches.clone();
                async move {
                    if names.contains(&"a1") {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    let results = names.iter().map(|_| Ok::<(), ()>(())).collect();
                    batches.lock().expect("lock").push(names);
                    results
                }
            },
        )
        .await;
        assert!(out.iter().all(|o| *o == Outcome::Done), "{out:?}");
        assert_eq!(
            *batches.lock().expect("lock"),
            vec![vec!["b1"], vec!["a1"], vec!["a2", "a3"]]
        );
    }
}
