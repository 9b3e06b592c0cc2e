//! Mutation fuzzing of the parsers (XGBoost JSON and UBJSON, LightGBM text, and the XGBoost and
//! LightGBM JSON dumps).
//!
//! Seeds are the real models under `tests/fixtures`, the hostile corpus under
//! `tests/hostile` and the dumps under `tests/dumps` (read by the dump parsers); each is mutated (bit flips, interesting bytes, numbers swapped for huge
//! ones, cuts, deletions, duplications) by a seeded generator, and every mutant must either
//! parse or be refused with an error: no panic, and no allocation beyond
//! [`ALLOWED_PER_BYTE`] times the file's size plus [`ALLOWED_FIXED`] while parsing (peak live
//! bytes on the parsing thread, counted by this binary's allocator). A parsed mutant is also
//! explained on one row and predicted, which must not panic either.
//!
//! CI runs `FUZZ_MUTANTS` mutants per seed; a longer run:
//! `FERROSHAP_FUZZ_MUTANTS=20000 cargo test --release -p ferroshap --test parsers_fuzz`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ferroshap::TreeEnsemble;
use ferroshap::formats::lightgbm_dump;
use ferroshap::formats::xgboost_dump::{self, DumpSettings};
use ferroshap::tree_shap::path_dependent;
use ndarray::Array2;

/// Mutants per seed file in a default test run (about 3 s in a test build).
const FUZZ_MUTANTS: usize = 1000;
/// The parsers hold the decoded document (a JSON value tree) and the ensemble's flat arrays at
/// once: the largest ratio seen on the real fixtures is 8.5 (printed by
/// `peak_ratio_of_fixtures`); 32 leaves room for denser but valid files and still catches
/// any allocation sized by a declared count (the bitset of one category 2^24 - 1 was 8,000x).
const ALLOWED_PER_BYTE: usize = 32;
/// Fixed allowance for small files (hash maps, error strings, vectors' first capacity).
const ALLOWED_FIXED: usize = 1 << 20;

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak live bytes allocated on this thread while `f` runs.
fn peak_bytes<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    let peak = PEAK.with(Cell::get) - start;
    (r, peak.max(0) as usize)
}

/// xorshift64*: a small seeded generator, so every run mutates the same way.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\x00\xff09-.e\"[]{}:,#$UlLiIdD\n=";
const NUMBERS: &[&str] = &[
    "18446744073709551615",
    "1000000000000000",
    "4294967295",
    "2147483648",
    "16777215",
    "-1",
    "0",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "99999999999999999999999",
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len());
        match rng.below(7) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 | 3 => {
                // A number in the text (or any byte run in UBJSON) swapped for a huge one.
                let start = (at..b.len()).find(|&i| b[i].is_ascii_digit()).unwrap_or(at);
                let end = (start..b.len())
                    .find(|&i| !b[i].is_ascii_digit())
                    .unwrap_or(b.len());
                let number = NUMBERS[rng.below(NUMBERS.len())].as_bytes();
                b.splice(
                    start..end.max(start + 1).min(b.len()),
                    number.iter().copied(),
                );
            }
            4 => b.truncate(at),
            5 => {
                let end = (at + 1 + rng.below(64)).min(b.len());
                b.drain(at..end);
            }
            _ => {
                let end = (at + 1 + rng.below(256)).min(b.len());
                let copy = b[at..end].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, copy);
            }
        }
    }
    b
}

/// The parser a seed file is read with: model dumps by the dump parsers (an XGBoost dump with
/// the settings its config would give), everything else by content.
fn parse(path: &str, bytes: &[u8]) -> ferroshap::Result<TreeEnsemble> {
    if path.ends_with(".xgbdump.json") {
        let settings = DumpSettings {
            objective: Some("binary:logistic".into()),
            base_score: Some(vec![0.5]),
            n_outputs: Some(if path.contains("multiclass") { 3 } else { 1 }),
            ..DumpSettings::default()
        };
        xgboost_dump::from_dump(bytes, &settings)
    } else if path.ends_with(".lgbdump.json") {
        lightgbm_dump::from_dump(bytes)
    } else {
        TreeEnsemble::from_bytes(bytes, None)
    }
}

fn seeds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<PathBuf> = ["fixtures", "hostile", "dumps"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("test folder exists"))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            (name.ends_with(".json") || name.ends_with(".ubj") || name.ends_with(".txt"))
                && !name.ends_with(".expected.json")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected the fixture models, found {}",
        files.len()
    );
    files
}

/// Parses `bytes` and, when that succeeds, explains and predicts one row: returns a
/// description of any panic, and the peak bytes allocated while parsing.
fn exercise(path: &str, bytes: &[u8]) -> (Option<String>, usize) {
    let (parsed, peak) = peak_bytes(|| catch_unwind(|| parse(path, bytes)));
    let model = match parsed {
        Err(_) => return (Some("panic while parsing".into()), peak),
        Ok(Err(_)) => return (None, peak),
        Ok(Ok(model)) => model,
    };
    // ferroshap's own form must give back the same model (compared through its own bytes).
    let native = model.to_bytes();
    match TreeEnsemble::from_bytes(&native, None) {
        Ok(back) if back.to_bytes() == native => {}
        Ok(_) => return (Some("native form does not round-trip".into()), peak),
        Err(e) => return (Some(format!("native form refused: {e}")), peak),
    }
    if model.n_features() > 10_000 {
        return (None, peak);
    }
    let use_model = catch_unwind(AssertUnwindSafe(|| {
        let x = Array2::<f64>::zeros((1, model.n_features()));
        let _ = model.predict_margin(x.view());
        let _ = path_dependent::shap_values(&model, x.view());
    }));
    (
        use_model
            .err()
            .map(|_| "panic explaining a parsed model".into()),
        peak,
    )
}

#[test]
fn peak_ratio_of_fixtures() {
    let mut worst = 0.0f64;
    for path in seeds() {
        let bytes = std::fs::read(&path).unwrap();
        let (panic, peak) = exercise(&path.to_string_lossy(), &bytes);
        assert!(panic.is_none(), "{}: {panic:?}", path.display());
        worst = worst.max(peak as f64 / bytes.len() as f64);
    }
    println!("largest peak allocation while parsing a seed: {worst:.1} x its size");
    assert!(worst < ALLOWED_PER_BYTE as f64);
}

#[test]
fn mutants_never_panic_nor_allocate_beyond_a_multiple_of_their_size() {
    let per_seed = std::env::var("FERROSHAP_FUZZ_MUTANTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(FUZZ_MUTANTS);
    // Panics are caught and reported below; keep the default hook from printing each one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut parsed = 0;
    // The model files, and ferroshap's own form of each that parses (the pickle format).
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for path in seeds() {
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(model) = parse(&path.to_string_lossy(), &bytes) {
            inputs.push((format!("{} (native)", path.display()), model.to_bytes()));
        }
        inputs.push((path.display().to_string(), bytes));
    }
    for (s, (path, seed)) in inputs.iter().enumerate() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (s as u64 + 1));
        for i in 0..per_seed {
            let mutant = mutate(seed, &mut rng);
            let (panic, peak) = exercise(path, &mutant);
            let allowed = ALLOWED_PER_BYTE * mutant.len() + ALLOWED_FIXED;
            let failure = match panic {
                Some(what) => Some(what),
                None if peak > allowed => Some(format!(
                    "{peak} bytes allocated for a {}-byte file",
                    mutant.len()
                )),
                None => None,
            };
            match failure {
                Some(what) => {
                    // Kept for reproduction: the file name is in the failure message.
                    let keep = std::env::temp_dir().join(format!("ferroshap-fuzz-{s}-{i}.bin"));
                    let _ = std::fs::write(&keep, &mutant);
                    failures.push(format!("{path} -> {}: {what}", keep.display()));
                }
                None if parse(path, &mutant).is_ok() => parsed += 1,
                None => {}
            }
        }
    }
    std::panic::set_hook(hook);
    println!("{parsed} mutants parsed; {} failures", failures.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
