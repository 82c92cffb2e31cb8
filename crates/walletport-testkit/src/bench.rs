//! The adapter-cost bench harness every adapter's `benches/adapter.rs` runs (issue 8, benchmark
//! 1), behind the `bench` feature.
//!
//! Each adapter times its pure `build_*_request` / `parse_*_response` functions on every
//! documented exchange of its `tests/fixtures/index.json`. What is the same for each (reading the
//! fixtures and knowing which a benchmark used, checking every routine once before timing, the
//! criterion settings) lives here; the adapter says which routine times which fixture:
//!
//! ```ignore
//! let mut fx = BenchFixtures::new(env!("CARGO_MANIFEST_DIR"));
//! let mut plan = Plan::default();
//! let resp = fx.response("status/ok.response");
//! plan.ok("status/parse/ok", move || mapping::parse_status_response(&resp));
//! fx.assert_all_used();
//! walletport_testkit::bench::run(plan.into_routines());
//! ```
//!
//! A routine that fails on its fixture (or, for an error fixture, succeeds) stops the run before
//! anything is measured, so a broken mapping cannot be timed as a fast error path; so does a
//! fixture of the index that no benchmark used.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::Criterion;
use serde_json::Value;
use walletport_http::HttpResponse;

/// One timed routine: its criterion id (`<group>/<case>`, the group may hold `/`) and the closure,
/// which answers whether it took the expected path.
pub type Routine = (String, Box<dyn FnMut() -> bool>);

/// An adapter's fixture files, and which of them a benchmark has used.
#[derive(Debug)]
pub struct BenchFixtures {
    dir: PathBuf,
    used: BTreeSet<String>,
    status_of: fn(&Value) -> u16,
}

impl BenchFixtures {
    /// The fixtures of the adapter at `manifest_dir` (`tests/fixtures`), answers served as 200.
    pub fn new(manifest_dir: &str) -> Self {
        Self {
            dir: Path::new(manifest_dir).join("tests/fixtures"),
            used: BTreeSet::new(),
            status_of: |_| 200,
        }
    }

    /// The same, with the HTTP status of an answer read from its body, for vendors whose
    /// envelope repeats the status (the transport would hand the adapter that status).
    #[must_use]
    pub fn with_status(mut self, status_of: fn(&Value) -> u16) -> Self {
        self.status_of = status_of;
        self
    }

    /// The fixture `name` (`<operation>/<case>.<kind>`), marked used.
    ///
    /// # Panics
    ///
    /// When the file does not read or is not JSON: the bench would otherwise time nothing.
    pub fn json(&mut self, name: &str) -> Value {
        self.used.insert(name.to_owned());
        let path = self.dir.join(format!("{name}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A fixture as the HTTP answer the transport would hand the adapter.
    pub fn response(&mut self, name: &str) -> HttpResponse {
        let body = self.json(name);
        HttpResponse::json_body((self.status_of)(&body), &body)
    }

    /// A fixture as the raw body a hook request carries.
    ///
    /// # Panics
    ///
    /// When the fixture does not read (see [`Self::json`]).
    pub fn bytes(&mut self, name: &str) -> Vec<u8> {
        serde_json::to_vec(&self.json(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Marks a fixture used by a benchmark that takes its input from the domain side (a schema
    /// fixture lists the keys the built request must carry; the fixture tests check them).
    pub fn covers(&mut self, name: &str) {
        let _ = self.json(name);
    }

    /// Stops the run when a fixture of the index has no benchmark.
    ///
    /// # Panics
    ///
    /// With the fixtures no benchmark used, or when the index lists none.
    pub fn assert_all_used(&self) {
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.join("index.json")).unwrap_or_default(),
        )
        .unwrap_or(Value::Null);
        let all: BTreeSet<String> = index["fixtures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect();
        assert!(!all.is_empty(), "tests/fixtures/index.json lists fixtures");
        let missing: Vec<_> = all.difference(&self.used).collect();
        assert!(
            missing.is_empty(),
            "fixtures without a benchmark: {missing:?}"
        );
    }
}

/// Collects routines after checking each once.
#[derive(Default)]
pub struct Plan {
    routines: Vec<Routine>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routines.iter().map(|(id, _)| id))
            .finish()
    }
}

impl Plan {
    /// Adds a routine that must succeed on its fixture; its output goes to `black_box`.
    ///
    /// # Panics
    ///
    /// When the routine fails on its fixture.
    pub fn ok<T: 'static>(
        &mut self,
        id: &str,
        mut f: impl FnMut() -> walletport_core::Result<T> + 'static,
    ) {
        if let Err(e) = f() {
            panic!("{id}: the routine fails on its fixture: {e}");
        }
        self.routines
            .push((id.to_owned(), Box::new(move || black_box(f()).is_ok())));
    }

    /// Adds a routine that must fail on its (error) fixture: the cost of the error path.
    ///
    /// # Panics
    ///
    /// When the routine accepts its error fixture.
    pub fn err<T: 'static>(
        &mut self,
        id: &str,
        mut f: impl FnMut() -> walletport_core::Result<T> + 'static,
    ) {
        assert!(f().is_err(), "{id}: the error fixture was accepted");
        self.routines
            .push((id.to_owned(), Box::new(move || black_box(f()).is_err())));
    }

    /// Adds an infallible routine (hook answer encoders).
    pub fn always<T: 'static>(&mut self, id: &str, mut f: impl FnMut() -> T + 'static) {
        self.routines.push((
            id.to_owned(),
            Box::new(move || {
                black_box(f());
                true
            }),
        ));
    }

    /// The routines, in the order they were added.
    pub fn into_routines(self) -> Vec<Routine> {
        self.routines
    }
}

/// Times every routine with the adapters' shared criterion settings (20 samples, 0.3 s warm-up,
/// 1 s measurement, no plots; command-line arguments still apply), each as
/// `<group>/<case>` split at the last `/`.
///
/// # Panics
///
/// When an id has no `/`.
pub fn run(routines: Vec<Routine>) {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
        .configure_from_args();
    for (id, mut routine) in routines {
        let (group, case) = id.rsplit_once('/').expect("group/case");
        c.benchmark_group(group)
            .bench_function(case, |b| b.iter(&mut routine));
    }
    c.final_summary();
}
