//! Runs the shipped pipelines (`pipelines/`) end to end against the real binary.
//!
//! Every check compares the alerts that come out of a pipeline with the alerts of
//! `credtrail INPUT_FILE`, by the set of their `eventID`s (`.eventID // .detail.eventID`): runners
//! re-serialise JSON (Vector sorts keys), so bytes are not comparable.
//!
//! - Kafka (tansu + kcat on librdkafka >= 2.2): the `pipelines/kafka/demo`, the scale-out over 4
//!   partitions and 2 consumers, and the shell recipes that use Kafka.
//! - Vector, Fluent Bit, Fluentd: each demo run repeatedly (a sink that loses a line now and then
//!   shows), and one streaming test per runner timing a lone alert against its README's promise.
//! - Under CI (`CI` or `CREDTRAIL_CI` set to 1 or true; `.ci/run` sets it, after
//!   `.ci/install-kafka` and `.ci/install-runners`) a missing runner or broker fails the test;
//!   elsewhere the test prints `SKIPPED <runner>: <binary> not on PATH` and passes.
//! - The shell recipes of `pipelines/shell/README.md`, with local files standing in for S3.
//!
//! Fixtures: `tests/data/pipelines/` (its README says what each expects and why). Every child
//! process runs under a deadline and in its own process group, killed whole on timeout; every
//! broker runs on a free loopback port and is killed when its guard drops, failure or not.

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Alerts that `tests/data/pipelines/attack.ndjson` must produce whatever the address-change rules
/// say about instance B: instance A is locked to 3.3.3.3 and never moves. They cover the long
/// record, the EventBridge envelope, the `{"Records":[...]}` body and the last record.
const ATTACK_MUST_ALERT: &[&str] = &[
    "a-thief-1",
    "a-thief-big",
    "a-thief-eventbridge",
    "a-thief-records-body",
    "a-thief-last",
];

fn credtrail() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_credtrail"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(ROOT).join("tests/data/pipelines").join(name)
}

fn pipeline(path: &str) -> PathBuf {
    Path::new(ROOT).join("pipelines").join(path)
}

/// Under CI (`CI` or `CREDTRAIL_CI`, which `.ci/run` sets, is `1` or `true`) a missing runner or
/// broker fails the test instead of skipping it.
fn on_ci() -> bool {
    ["CI", "CREDTRAIL_CI"]
        .iter()
        .any(|k| matches!(env::var(k).as_deref(), Ok("true") | Ok("1")))
}

/// Written straight to the process's stderr: the test harness captures `eprintln!` of passing
/// tests, and a skip must be seen.
fn skipped(runner: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {runner}: {why}");
}

fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Processes with deadlines

struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd` to completion with stdin closed, or kills its whole process group after `limit`.
fn run(what: &str, cmd: &mut Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_until(&mut child, limit);
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!("{what}: still running after {limit:?}, killed\nstderr:\n{stderr}"),
    }
}

/// Like `run`, but fails unless the command exits 0.
fn run_ok(what: &str, cmd: &mut Command, limit: Duration) -> Output {
    let out = run(what, cmd, limit);
    assert!(
        out.status.success(),
        "{what}: {}\nstderr:\n{}",
        out.status,
        out.stderr
    );
    out
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// Waits for `child` up to `limit`; on timeout kills its process group and returns None.
fn wait_until(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            kill_group(child);
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// A background process group that is killed when dropped.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        kill_group(&mut self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Temporary directories and alerts

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = env::temp_dir().join(format!(
            "credtrail-pipelines-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The `eventID`s of alert records, one JSON record per line (`.eventID // .detail.eventID`).
fn event_ids(what: &str, ndjson: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(ndjson);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v = json::parse(line)
                .unwrap_or_else(|e| panic!("{what}: output line is not JSON ({e}): {line:.200}"));
            v.get("eventID")
                .or_else(|| v.get("detail").and_then(|d| d.get("eventID")))
                .and_then(json::Value::as_str)
                .unwrap_or_else(|| panic!("{what}: output line has no eventID: {line:.200}"))
                .to_owned()
        })
        .collect()
}

fn id_set(what: &str, ndjson: &[u8]) -> BTreeSet<String> {
    event_ids(what, ndjson).into_iter().collect()
}

/// Alerts of `credtrail INPUT` run directly: what every pipeline must reproduce.
fn direct_alerts(input: &Path) -> BTreeSet<String> {
    let out = run_ok(
        "credtrail INPUT",
        Command::new(credtrail()).arg(input),
        Duration::from_secs(60),
    );
    let ids = event_ids("credtrail INPUT", &out.stdout);
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), set.len(), "credtrail printed an alert twice: {ids:?}");
    set
}

fn direct_attack_alerts() -> BTreeSet<String> {
    let direct = direct_alerts(&fixture("attack.ndjson"));
    for id in ATTACK_MUST_ALERT {
        assert!(
            direct.contains(*id),
            "credtrail attack.ndjson: no alert {id}; got {direct:?}"
        );
    }
    direct
}

fn assert_same_alerts(what: &str, got: &BTreeSet<String>, want: &BTreeSet<String>) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: alerts differ from `credtrail INPUT_FILE`\n  missing: {missing:?}\n  extra:   {extra:?}"
    );
}

/// Runs `pipelines/<runner>/demo INPUT` and compares its alerts with credtrail's own.
fn check_demo(runner: &str, input: &Path, envs: &[(&str, &str)], want: &BTreeSet<String>) {
    let mut cmd = Command::new(pipeline(&format!("{runner}/demo")));
    cmd.arg(input).env("CREDTRAIL", credtrail());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = run_ok(&format!("{runner} demo"), &mut cmd, Duration::from_secs(180));
    let ids = event_ids(&format!("{runner} demo"), &out.stdout);
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        ids.len(),
        got.len(),
        "{runner} demo printed an alert twice: {ids:?}"
    );
    assert_same_alerts(&format!("{runner} demo"), &got, want);
}

// ---------------------------------------------------------------------------------------------
// Kafka: tansu and a kcat that can talk to it

struct KafkaTools {
    tansu: PathBuf,
    kcat: PathBuf,
}

/// tansu and kcat-modern (see .ci/install-kafka), or `CREDTRAIL_TANSU` / `CREDTRAIL_KCAT`.
/// Missing: skip locally, fail under CI.
fn kafka_tools(test: &str) -> Option<KafkaTools> {
    let tansu = env::var("CREDTRAIL_TANSU")
        .ok()
        .and_then(|p| which(&p))
        .or_else(|| which("tansu"))
        .or_else(|| {
            let p = PathBuf::from(env::var_os("HOME")?).join(".cargo/bin/tansu");
            is_executable(&p).then_some(p)
        });
    let kcat = env::var("CREDTRAIL_KCAT")
        .ok()
        .and_then(|p| which(&p))
        .or_else(|| which("kcat-modern"));
    let missing = match (&tansu, &kcat) {
        (Some(_), Some(_)) => None,
        (None, _) => Some("tansu"),
        (_, None) => Some("kcat-modern"),
    };
    if let Some(binary) = missing {
        assert!(
            !on_ci(),
            "{test}: {binary} not found, and CI=true: the Kafka tests must run in CI. \
             Run .ci/install-kafka (or set CREDTRAIL_TANSU / CREDTRAIL_KCAT)."
        );
        skipped(test, &format!("{binary} not on PATH (run .ci/install-kafka)"));
        return None;
    }
    let kcat = kcat.expect("checked");
    let v = run("kcat -V", Command::new(&kcat).arg("-V"), Duration::from_secs(10));
    let text = String::from_utf8_lossy(&v.stdout).into_owned() + &v.stderr;
    assert!(
        librdkafka_at_least_2_2(&text),
        "{test}: {} must run on librdkafka >= 2.2 (tansu rejects older ApiVersion requests):\n{text}",
        kcat.display()
    );
    Some(KafkaTools {
        tansu: tansu.expect("checked"),
        kcat,
    })
}

fn librdkafka_at_least_2_2(version_text: &str) -> bool {
    let Some(at) = version_text.find("librdkafka ") else {
        return false;
    };
    let mut parts = version_text[at + 11..].split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor) >= (2, 2)
}

/// A tansu broker on a free loopback port, in-memory storage, started from an empty directory
/// (it reads a `.env` there); killed when dropped.
struct Broker {
    child: Child,
    address: String,
    tools_tansu: PathBuf,
    kcat: PathBuf,
    _dir: TempDir,
}

impl Broker {
    fn start(tools: &KafkaTools) -> Broker {
        let dir = TempDir::new("tansu");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free loopback port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = fs::File::create(dir.path().join("tansu.log")).expect("tansu log");
        let work = dir.path().join("work");
        fs::create_dir_all(&work).expect("tansu work dir");
        let child = Command::new(&tools.tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .current_dir(&work)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start tansu");
        let mut broker = Broker {
            child,
            address: format!("127.0.0.1:{port}"),
            tools_tansu: tools.tansu.clone(),
            kcat: tools.kcat.clone(),
            _dir: dir,
        };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tansu exited ({status}):\n{}", self.log());
            }
            if TcpStream::connect(&self.address).is_ok() {
                let probe = run(
                    "kcat -L",
                    Command::new(&self.kcat).args(["-b", &self.address, "-L", "-m", "2"]),
                    Duration::from_secs(10),
                );
                if probe.status.success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "tansu not ready on {}:\n{}",
                self.address,
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self._dir.path().join("tansu.log")).unwrap_or_default()
    }

    fn create_topic(&self, name: &str, partitions: u32) {
        run_ok(
            "tansu topic create",
            Command::new(&self.tools_tansu)
                .args(["topic", "create", "--broker", &format!("tcp://{}", self.address)])
                .args(["--partitions", &partitions.to_string(), name]),
            Duration::from_secs(30),
        );
    }

    /// Environment for the scripts in pipelines/: BROKER, CREDTRAIL, KCAT, TANSU.
    fn envs(&self, cmd: &mut Command) {
        cmd.env("BROKER", &self.address)
            .env("CREDTRAIL", credtrail())
            .env("KCAT", &self.kcat)
            .env("TANSU", &self.tools_tansu);
    }

    /// `credtrail key INPUT | kcat -P -K '\t'` into `topic`, one record per batch (tansu 0.6
    /// answers a fetch that starts mid-batch with the next batch, and the timestamp seek of the
    /// kafka-tail recipe starts mid-topic).
    fn produce_keyed(&self, input: &Path, topic: &str) {
        let mut cmd = Command::new(pipeline("kafka/produce"));
        cmd.arg(input)
            .env("TOPIC", topic)
            .env("KCAT_PRODUCER_EXTRA", "-X batch.num.messages=1");
        self.envs(&mut cmd);
        run_ok("pipelines/kafka/produce", &mut cmd, Duration::from_secs(60));
    }

    /// Every message of `topic`, one per line, up to the end of each partition.
    fn consume_all(&self, topic: &str) -> Vec<u8> {
        run_ok(
            "kcat -C",
            Command::new(&self.kcat).args([
                "-C",
                "-q",
                "-e",
                "-b",
                &self.address,
                "-t",
                topic,
                "-o",
                "beginning",
            ]),
            Duration::from_secs(60),
        )
        .stdout
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kafka_demo_end_to_end() {
    let Some(tools) = kafka_tools("kafka demo") else {
        return;
    };
    let want = direct_attack_alerts();
    let broker = Broker::start(&tools);
    let envs = [
        ("BROKER", broker.address.as_str()),
        ("KCAT", tools.kcat.to_str().expect("utf-8 path")),
        ("TANSU", tools.tansu.to_str().expect("utf-8 path")),
    ];
    check_demo("kafka", &fixture("attack.ndjson"), &envs, &want);
}

#[test]
fn kafka_demo_starts_its_own_broker() {
    let Some(tools) = kafka_tools("kafka demo (own broker)") else {
        return;
    };
    let want = direct_attack_alerts();
    let envs = [
        ("KCAT", tools.kcat.to_str().expect("utf-8 path")),
        ("TANSU", tools.tansu.to_str().expect("utf-8 path")),
    ];
    check_demo("kafka", &fixture("attack.ndjson"), &envs, &want);
}

/// `credtrail key` -> 4 partitions -> 2 consumer processes, each reading 2 partitions (`-p`) into
/// its own credtrail: together they alert on exactly what one credtrail alerts on over the whole
/// input, and never on the same record twice.
#[test]
fn kafka_scale_out_two_consumers_equal_one() {
    let Some(tools) = kafka_tools("kafka scale-out") else {
        return;
    };
    let input = fixture("scaleout.ndjson");
    let want = direct_alerts(&input);
    assert!(
        want.iter().any(|id| id.starts_with("thief-")),
        "scaleout.ndjson must alert: {want:?}"
    );

    let broker = Broker::start(&tools);
    broker.create_topic("cloudtrail", 4);
    broker.produce_keyed(&input, "cloudtrail");

    // Every record of one instance must sit in one partition.
    let keyed = run_ok(
        "kcat -C -f",
        Command::new(&tools.kcat)
            .args(["-C", "-q", "-e", "-b", &broker.address, "-t", "cloudtrail"])
            .args(["-o", "beginning", "-f", "%p\t%k\n"]),
        Duration::from_secs(60),
    );
    let mut partition_of = std::collections::BTreeMap::new();
    let mut used = BTreeSet::new();
    for line in String::from_utf8_lossy(&keyed.stdout).lines() {
        let (p, key) = line.split_once('\t').expect("partition<TAB>key");
        used.insert(p.to_owned());
        if key.is_empty() {
            continue;
        }
        let first = partition_of.entry(key.to_owned()).or_insert_with(|| p.to_owned());
        assert_eq!(first, p, "key {key} is in partitions {first} and {p}");
    }
    assert!(
        used.len() >= 3,
        "48 instances should spread over the 4 partitions, got {used:?}"
    );

    let consumers: Vec<Background> = ["0 2", "1 3"]
        .iter()
        .enumerate()
        .map(|(n, parts)| {
            let mut cmd = Command::new(pipeline("kafka/detect"));
            broker.envs(&mut cmd);
            let out = fs::File::create(broker._dir.path().join(format!("consumer-{n}.ndjson"))).expect("out");
            let err = fs::File::create(broker._dir.path().join(format!("consumer-{n}.err"))).expect("err");
            cmd.env("TOPIC", "cloudtrail")
                .env("PARTITIONS", parts)
                .env("FOLLOW", "0")
                .env("ALERTS_TOPIC", "")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0);
            Background(cmd.spawn().expect("start consumer"))
        })
        .collect();
    let mut union = BTreeSet::new();
    for (n, mut consumer) in consumers.into_iter().enumerate() {
        let status = wait_until(&mut consumer.0, Duration::from_secs(90));
        let err =
            fs::read_to_string(broker._dir.path().join(format!("consumer-{n}.err"))).unwrap_or_default();
        let status = status.unwrap_or_else(|| panic!("consumer {n} still running after 90 s\n{err}"));
        assert!(status.success(), "consumer {n}: {status}\n{err}");
        let out = fs::read(broker._dir.path().join(format!("consumer-{n}.ndjson"))).expect("consumer output");
        for id in event_ids(&format!("consumer {n}"), &out) {
            assert!(union.insert(id.clone()), "alert {id} came out of both consumers");
        }
    }
    assert_same_alerts("2 consumers x 2 partitions", &union, &want);
}

/// `pipelines/kafka/detect` over fixed partitions with `FOLLOW=0` (one credtrail reading them one
/// after another): the eventIDs of its alerts.
fn detect_alerts(broker: &Broker, topic: &str, parts: &str, tag: &str) -> Vec<String> {
    let dir = broker._dir.path();
    let (out_path, err_path) = (dir.join(format!("{tag}.ndjson")), dir.join(format!("{tag}.err")));
    let mut cmd = Command::new(pipeline("kafka/detect"));
    broker.envs(&mut cmd);
    cmd.env("TOPIC", topic)
        .env("PARTITIONS", parts)
        .env("FOLLOW", "0")
        .env("ALERTS_TOPIC", "")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("out"))
        .stderr(fs::File::create(&err_path).expect("err"))
        .process_group(0);
    let mut consumer = Background(cmd.spawn().expect("start consumer"));
    let status = wait_until(&mut consumer.0, Duration::from_secs(90));
    let err = fs::read_to_string(&err_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("{tag}: still running after 90 s\n{err}"));
    assert!(status.success(), "{tag}: {status}\n{err}");
    event_ids(tag, &fs::read(&out_path).expect("consumer output"))
}

/// A trail whose thefts a partition's consumer only judges right with what `credtrail key`
/// resolved elsewhere (an allocation id, the interface of an instance another one's RunInstances
/// launched, the restart of instances one StopInstances names; see `keyed.rs`), through the real broker: 1, 2 and 4 consumers (`detect` runs
/// credtrail `--keyed`), one consumer reading the 4 partitions one after another, and one reading
/// the whole topic as the broker interleaves it: each alert set is one process's.
#[test]
fn kafka_keyed_consumers_equal_one() {
    let Some(tools) = kafka_tools("kafka keyed consumers") else {
        return;
    };
    let broker = Broker::start(&tools);
    let input = broker._dir.path().join("keyed.ndjson");
    let mut trail = crate::keyed::trail();
    trail.extend(crate::keyed::stop_trail());
    fs::write(&input, crate::common::trail::lines(&trail)).expect("write trail");
    let want = direct_alerts(&input);
    assert_eq!(want.len(), 4, "the trail has four thefts: {want:?}");
    broker.create_topic("keyed", 4);
    broker.produce_keyed(&input, "keyed");
    for (n, split) in [
        (1, &["0 1 2 3"][..]),
        (2, &["0 2", "1 3"][..]),
        (4, &["0", "1", "2", "3"][..]),
    ] {
        let mut union = BTreeSet::new();
        for (i, parts) in split.iter().enumerate() {
            for id in detect_alerts(&broker, "keyed", parts, &format!("n{n}-c{i}")) {
                assert!(union.insert(id.clone()), "{n} consumers: {id} alerted twice");
            }
        }
        assert_same_alerts(&format!("{n} keyed consumers"), &union, &want);
    }
    let interleaved = broker.consume_all("keyed");
    let mut child = Command::new(credtrail())
        .arg("--keyed")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("credtrail");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&interleaved)
        .expect("feed");
    let out = child.wait_with_output().expect("credtrail --keyed");
    assert!(out.status.success());
    assert_same_alerts(
        "the whole topic, interleaved",
        &id_set("interleaved", &out.stdout),
        &want,
    );
}

// ---------------------------------------------------------------------------------------------
// Vector, Fluent Bit, Fluentd: installed by .ci/install-runners in CI, skipped elsewhere

/// The runner's binary; without it, a failure under CI and `SKIPPED` elsewhere.
fn runner(test: &str, binary: &str) -> Option<PathBuf> {
    let found = which(binary);
    if found.is_none() {
        assert!(
            !on_ci(),
            "{test}: {binary} not on PATH under CI, where it must run (.ci/install-runners installs it)"
        );
        skipped(test, &format!("{binary} not on PATH (run .ci/install-runners)"));
    }
    found
}

/// How many times each demo variant runs: `CREDTRAIL_DEMO_RUNS` (the nightly loop of README.md
/// sets 300), else `default`.
fn demo_runs(default: usize) -> usize {
    env::var("CREDTRAIL_DEMO_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Demo runs at once: the runners mostly wait on their flush timers, so runs overlap well even
/// on two cores.
const DEMO_PARALLEL: usize = 4;

/// Runs each `(variant, runs)` of `pipelines/<runner>/demo attack.ndjson` that many times and
/// fails if any run's alerts differ from credtrail's own: a sink that loses the last line in 1 %
/// of runs (Vector's console sink did) is caught by 300 runs 95 % of the time, and a loss of 1 %
/// of alerts by 50 runs (250 alerts) 92 % of the time.
fn repeat_demo(runner: &str, variants: &[(&[(&str, &str)], usize)]) {
    let want = direct_attack_alerts();
    let jobs: Vec<&[(&str, &str)]> = variants
        .iter()
        .flat_map(|&(envs, runs)| std::iter::repeat_n(envs, runs))
        .collect();
    let next = AtomicUsize::new(0);
    let failed: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..DEMO_PARALLEL {
            s.spawn(|| {
                while let Some(envs) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        check_demo(runner, &fixture("attack.ndjson"), envs, &want);
                    }));
                    if let Err(e) = run {
                        let why = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        failed.lock().expect("lock").push(format!("{envs:?}: {why}"));
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().expect("lock");
    assert!(
        failed.is_empty(),
        "{runner} demo: {} of {} runs failed; the first:\n{}",
        failed.len(),
        jobs.len(),
        failed[0]
    );
}

/// Both variants, with and without `--dangerously-allow-env-var-interpolation`: since Vector 0.57
/// the configs must work either way (no `${` in them, the command read through printenv). A run
/// takes ~0.1 s, so the flagless variants run 300 times.
#[test]
fn vector_demo() {
    const FLAG: (&str, &str) = ("VECTOR_FLAGS", "--dangerously-allow-env-var-interpolation");
    for config in ["vector.yaml", "vector-before.yaml", "vector-after.yaml"] {
        let text = fs::read_to_string(pipeline(&format!("vector/{config}"))).expect("vector config");
        assert!(
            !text.contains("${"),
            "{config}: `${{` is interpolated only with the flag, and fails in a comment"
        );
    }
    if runner("vector", "vector").is_none() {
        return;
    }
    repeat_demo(
        "vector",
        &[
            (&[], demo_runs(300)),
            (&[FLAG], demo_runs(50)),
            (&[("DEMO_VARIANT", "sandwich")], demo_runs(300)),
            (&[("DEMO_VARIANT", "sandwich"), FLAG], demo_runs(50)),
        ],
    );
}

/// A run takes ~2 s (one flush, then the shutdown).
#[test]
fn fluent_bit_demo() {
    if runner("fluent-bit", "fluent-bit").is_none() {
        return;
    }
    repeat_demo(
        "fluent-bit",
        &[
            (&[], demo_runs(50)),
            (&[("DEMO_CONFIG", "classic")], demo_runs(50)),
            (&[("DEMO_VARIANT", "stdin")], demo_runs(50)),
            (
                &[("DEMO_VARIANT", "stdin"), ("DEMO_CONFIG", "classic")],
                demo_runs(10),
            ),
        ],
    );
}

/// A run takes ~5 s (Fluentd's start, two 1 s flushes before the sentinel's alert, the stop).
#[test]
fn fluentd_demo() {
    if runner("fluentd", "fluentd").is_none() {
        return;
    }
    repeat_demo("fluentd", &[(&[], demo_runs(50))]);
}

// Streaming: an alert written alone, while the runner waits for more input, must come out within
// what the runner's README promises. Each test feeds attack.ndjson, waits for its alerts, then
// feeds LONE_THEFTS thefts one at a time and times each from its write to its line in the sink.

/// The latencies promised by pipelines/{vector,fluent-bit,fluentd}/README.md.
const VECTOR_PROMISE: Duration = Duration::from_millis(500);
const FLUENT_BIT_PROMISE: Duration = Duration::from_millis(2000);
const FLUENTD_PROMISE: Duration = Duration::from_millis(3000);
const LONE_THEFTS: usize = 5;

/// Theft number `n` alone: instance A (locked to 3.3.3.3 by attack.ndjson) calls from 9.9.9.9,
/// later than every record of the fixture. Its alert's eventID and the line.
fn lone_theft(n: usize) -> (String, String) {
    let id = format!("a-thief-alone-{n}");
    let line = format!(
        r#"{{"eventTime":"2024-03-01T00:10:{n:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"9.9.9.9","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/app-role/i-0aaaaaaaaaaaaaaa1"}},"eventID":"{id}","recipientAccountId":"123456789012"}}"#
    ) + "\n";
    (id, line)
}

/// The alerts in the whole lines of every file in `dir` whose name starts with `alerts`.
fn sink_alerts(what: &str, dir: &Path) -> BTreeSet<String> {
    let mut got = BTreeSet::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if !entry.file_name().to_string_lossy().starts_with("alerts") || !entry.path().is_file() {
            continue;
        }
        let b = fs::read(entry.path()).unwrap_or_default();
        // Only whole lines: the file may end in the middle of one being written.
        let end = b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        got.extend(id_set(what, &b[..end]));
    }
    got
}

/// Waits until the sink in `dir` holds every alert of `want`; fails after `limit`, showing `log`.
fn wait_for_alerts(what: &str, dir: &Path, want: &BTreeSet<String>, limit: Duration, log: &Path) -> Duration {
    let start = Instant::now();
    loop {
        if sink_alerts(what, dir).is_superset(want) {
            return start.elapsed();
        }
        if start.elapsed() >= limit {
            let log = fs::read_to_string(log).unwrap_or_default();
            panic!(
                "{what}: after {limit:?} the sink holds {:?}, not all of {want:?}\nrunner log:\n{log}",
                sink_alerts(what, dir)
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Feeds the fixture, then the lone thefts, through `feed`, and checks each lone alert's latency
/// against `promise`.
fn check_latency(what: &str, dir: &Path, log: &Path, promise: Duration, mut feed: impl FnMut(&[u8])) {
    let want = direct_attack_alerts();
    feed(&fs::read(fixture("attack.ndjson")).expect("attack.ndjson"));
    wait_for_alerts(what, dir, &want, Duration::from_secs(60), log);
    let mut took = Vec::new();
    for n in 0..LONE_THEFTS {
        let (id, line) = lone_theft(n);
        feed(line.as_bytes());
        let one = BTreeSet::from([id]);
        took.push(wait_for_alerts(what, dir, &one, Duration::from_secs(60), log));
    }
    let _ = writeln!(std::io::stderr(), "{what}: lone alerts came out after {took:?}");
    let slowest = took.iter().max().copied().unwrap_or_default();
    assert!(
        slowest <= promise,
        "{what}: a lone alert took {slowest:?}, the README promises {promise:?} (all: {took:?})"
    );
}

/// A FIFO at `path` that the test writes to and the runner's command reads from. Opened for
/// reading and writing, so opening does not wait for the reader; dropping it is the end of input.
fn fifo(path: &Path) -> fs::File {
    run_ok(
        "mkfifo",
        Command::new("mkfifo").arg(path),
        Duration::from_secs(10),
    );
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open fifo")
}

/// `'credtrail' < 'FIFO'`, shell-quoted, for the runners' CREDTRAIL_COMMAND.
fn credtrail_reading(fifo: &Path) -> String {
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    format!("{} < {}", q(&credtrail()), q(fifo))
}

/// Starts `cmd` in `dir` in its own process group, its stdout and stderr into `log`.
fn start_in(dir: &Path, log: &Path, cmd: &mut Command) -> Background {
    let log = fs::File::create(log).expect("runner log");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0);
    Background(cmd.spawn().expect("start runner"))
}

/// The baseline the runners' latencies compare with: credtrail alone, reading a FIFO and writing
/// a file, flushes whenever its input goes idle.
#[test]
fn credtrail_alone_streams_a_lone_alert_at_once() {
    let tmp = TempDir::new("alone-stream");
    let path = tmp.path().join("input");
    let mut input = fifo(&path);
    let log = tmp.path().join("credtrail.log");
    let mut cmd = Command::new(credtrail());
    cmd.stdin(fs::File::open(&path).expect("fifo for reading"))
        .stdout(fs::File::create(tmp.path().join("alerts.ndjson")).expect("alerts file"))
        .stderr(fs::File::create(&log).expect("log"))
        .process_group(0);
    let _credtrail = Background(cmd.spawn().expect("start credtrail"));
    check_latency("credtrail alone", tmp.path(), &log, VECTOR_PROMISE, |b| {
        input.write_all(b).expect("write to the fifo");
    });
}

#[test]
fn vector_streams_a_lone_alert_at_once() {
    let Some(vector) = runner("vector streaming", "vector") else {
        return;
    };
    let tmp = TempDir::new("vector-stream");
    let log = tmp.path().join("vector.log");
    let mut input = fifo(&tmp.path().join("input"));
    let _vector = start_in(
        tmp.path(),
        &log,
        Command::new(vector)
            .arg("--config")
            .arg(pipeline("vector/vector.yaml"))
            .env("CREDTRAIL_COMMAND", credtrail_reading(&tmp.path().join("input"))),
    );
    check_latency("vector streaming", tmp.path(), &log, VECTOR_PROMISE, |b| {
        input.write_all(b).expect("write to the fifo");
    });
}

#[test]
fn fluent_bit_streams_a_lone_alert_within_its_flush() {
    let Some(fluent_bit) = runner("fluent-bit streaming", "fluent-bit") else {
        return;
    };
    let tmp = TempDir::new("fluent-bit-stream");
    let log = tmp.path().join("fluent-bit.log");
    let mut input = fifo(&tmp.path().join("input"));
    let _fluent_bit = start_in(
        tmp.path(),
        &log,
        Command::new(fluent_bit)
            .arg("-c")
            .arg(pipeline("fluent-bit/fluent-bit.yaml"))
            .env("CREDTRAIL_COMMAND", credtrail_reading(&tmp.path().join("input"))),
    );
    check_latency(
        "fluent-bit streaming",
        tmp.path(),
        &log,
        FLUENT_BIT_PROMISE,
        |b| {
            input.write_all(b).expect("write to the fifo");
        },
    );
}

/// Also: no alert lands in a file dated 1970 (the filter's `reserve_time true`: without it the
/// EventBridge alert's `"time":"2024-…"` is read as a number and becomes the event time).
#[test]
fn fluentd_streams_a_lone_alert_within_its_two_flushes() {
    let Some(fluentd) = runner("fluentd streaming", "fluentd") else {
        return;
    };
    let tmp = TempDir::new("fluentd-stream");
    let (state, out) = (tmp.path().join("state"), tmp.path().join("out"));
    fs::create_dir_all(&state).expect("state dir");
    fs::create_dir_all(&out).expect("out dir");
    let input_path = tmp.path().join("input.ndjson");
    let mut input = fs::File::create(&input_path).expect("input file");
    let log = tmp.path().join("fluentd.log");
    let _fluentd = start_in(
        tmp.path(),
        &log,
        Command::new(fluentd)
            .arg("-c")
            .arg(pipeline("fluentd/fluent.conf"))
            .arg("--no-supervisor")
            .env("CREDTRAIL", credtrail())
            .env("CREDTRAIL_INPUT", &input_path)
            .env("CREDTRAIL_STATE_DIR", &state)
            .env("CREDTRAIL_OUTPUT_DIR", &out),
    );
    // in_tail starts following the file only once Fluentd is up: a line written before it
    // watches is still read (read_from_head), but would time Fluentd's start, not its latency.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("fluentd worker is now running")
    {
        assert!(
            Instant::now() < deadline,
            "fluentd did not start in 60 s:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }
    check_latency("fluentd streaming", &out, &log, FLUENTD_PROMISE, |b| {
        input.write_all(b).expect("append to the input");
    });
    for entry in fs::read_dir(&out).expect("out dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.contains("1970"), "an alert file dated 1970: {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Shell recipes (pipelines/shell/README.md), each run as written

fn recipe(name: &str, dir: &Path, envs: &[(&str, &std::ffi::OsStr)], limit: Duration) -> Output {
    let mut cmd = Command::new(pipeline("shell/run-recipe"));
    cmd.arg(name).arg(dir).env("CREDTRAIL", credtrail());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_ok(&format!("recipe {name}"), &mut cmd, limit)
}

#[test]
fn shell_demo_s3_archive() {
    let want = direct_attack_alerts();
    check_demo("shell", &fixture("attack.ndjson"), &[], &want);
}

/// Two regions dealt round-robin: directory order is not time order, the file names' timestamps
/// are, and the recipe must follow them.
#[test]
fn shell_recipe_s3_archive_time_order() {
    let want = direct_attack_alerts();
    let tmp = TempDir::new("s3");
    let s3 = tmp.path().join("s3");
    run_ok(
        "fake-s3",
        Command::new(pipeline("shell/fake-s3"))
            .arg(fixture("attack.ndjson"))
            .arg(s3.join("trail-bucket"))
            .args(["us-east-1", "eu-west-1"]),
        Duration::from_secs(30),
    );
    let work = tmp.path().join("work");
    recipe(
        "s3-archive-time-order",
        &work,
        &[("BUCKET", "trail-bucket".as_ref()), ("FAKE_S3", s3.as_os_str())],
        Duration::from_secs(60),
    );
    let got = id_set(
        "s3-archive-time-order",
        &fs::read(work.join("alerts.ndjson")).expect("alerts.ndjson"),
    );
    assert_same_alerts("recipe s3-archive-time-order", &got, &want);
}

#[test]
fn shell_recipe_jq_alerts() {
    if which("jq").is_none() {
        skipped("shell recipe jq-alerts", "jq not on PATH");
        return;
    }
    let want = direct_attack_alerts();
    let tmp = TempDir::new("jq");
    let out = recipe(
        "jq-alerts",
        tmp.path(),
        &[("INPUT", fixture("attack.ndjson").as_os_str())],
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (tsv, summary): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| !l.starts_with('{'));
    assert_eq!(tsv.len(), want.len(), "one TSV line per alert:\n{text}");
    for line in &tsv {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 4, "time, instance, address, call: {line}");
        assert!(fields.iter().all(|f| !f.is_empty()), "empty field: {line}");
    }
    assert!(
        tsv.iter().any(|l| l.contains("i-0aaaaaaaaaaaaaaa1\t9.9.9.9")),
        "{text}"
    );
    let mut total = 0;
    for line in &summary {
        let v = json::parse(line).unwrap_or_else(|e| panic!("summary line not JSON ({e}): {line}"));
        total += v
            .get("alerts")
            .and_then(json::Value::as_f64)
            .expect("alerts count") as usize;
    }
    assert_eq!(
        total,
        want.len(),
        "per-instance counts add up to the alerts:\n{text}"
    );
}

#[test]
fn shell_recipe_emit_all_archive() {
    if which("jq").is_none() {
        skipped("shell recipe emit-all-archive", "jq not on PATH");
        return;
    }
    let want = direct_attack_alerts();
    let tmp = TempDir::new("emit-all");
    recipe(
        "emit-all-archive",
        tmp.path(),
        &[("INPUT", fixture("attack.ndjson").as_os_str())],
        Duration::from_secs(60),
    );
    let got = id_set(
        "emit-all-archive",
        &fs::read(tmp.path().join("alerts.ndjson")).expect("alerts.ndjson"),
    );
    assert_same_alerts("recipe emit-all-archive", &got, &want);
    let all = run_ok(
        "gzip -dc",
        Command::new("gzip")
            .arg("-dc")
            .arg(tmp.path().join("annotated.ndjson.gz")),
        Duration::from_secs(30),
    );
    let passed = String::from_utf8_lossy(&all.stdout);
    assert!(
        passed.contains("\"eventID\":\"a-lock\""),
        "--emit all passes quiet records on"
    );
}

/// The live tail: the recipe runs until killed; every alert must come out while it waits for
/// more input (no end of input to flush on), including one for a record produced after it started.
#[test]
fn shell_recipe_kafka_tail() {
    let Some(tools) = kafka_tools("shell recipe kafka-tail") else {
        return;
    };
    let want = direct_attack_alerts();
    let broker = Broker::start(&tools);
    broker.create_topic("trail", 4);
    broker.produce_keyed(&fixture("attack.ndjson"), "trail");

    let work = TempDir::new("tail");
    let mut cmd = Command::new(pipeline("shell/run-recipe"));
    cmd.arg("kafka-tail")
        .arg(work.path())
        .env("CREDTRAIL", credtrail())
        .env("KCAT", &tools.kcat)
        .env("BROKER", &broker.address)
        .env("TOPIC", "trail")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let _tail = Background(cmd.spawn().expect("start kafka-tail"));
    let alerts = work.path().join("alerts.ndjson");
    let seen = |want: &BTreeSet<String>| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = fs::read(&alerts).map(|b| {
                // Only whole lines: the file may end in the middle of one being written.
                let end = b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
                id_set("kafka-tail", &b[..end])
            });
            if let Ok(got) = &got
                && (got.is_superset(want) || Instant::now() >= deadline)
            {
                return got.clone();
            }
            assert!(
                Instant::now() < deadline,
                "kafka-tail wrote no alerts.ndjson in 30 s"
            );
            thread::sleep(Duration::from_millis(100));
        }
    };
    assert_same_alerts("recipe kafka-tail", &seen(&want), &want);

    // One more theft, produced while the tail waits: its alert must come out at once.
    let late = work.path().join("late.ndjson");
    fs::write(
        &late,
        r#"{"eventTime":"2024-03-01T00:09:30Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"9.9.9.9","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/app-role/i-0aaaaaaaaaaaaaaa1"},"eventID":"a-thief-late","recipientAccountId":"123456789012"}
"#,
    )
    .expect("write late record");
    broker.produce_keyed(&late, "trail");
    let mut want_late = want.clone();
    want_late.insert("a-thief-late".to_owned());
    assert_same_alerts(
        "recipe kafka-tail, after a late record",
        &seen(&want_late),
        &want_late,
    );
}

#[test]
fn shell_recipe_emit_all_kafka() {
    let Some(tools) = kafka_tools("shell recipe emit-all-kafka") else {
        return;
    };
    let input = fixture("attack.ndjson");
    let want = direct_attack_alerts();
    let broker = Broker::start(&tools);
    broker.create_topic("trail", 4);
    broker.create_topic("trail-annotated", 1);
    broker.produce_keyed(&input, "trail");
    let work = TempDir::new("emit-all-kafka");
    recipe(
        "emit-all-kafka",
        work.path(),
        &[
            ("KCAT", tools.kcat.as_os_str()),
            ("BROKER", broker.address.as_ref()),
            ("TOPIC", "trail".as_ref()),
        ],
        Duration::from_secs(90),
    );
    let annotated = broker.consume_all("trail-annotated");
    let consumed = broker.consume_all("trail");
    let count = |b: &[u8]| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count();
    assert_eq!(
        count(&annotated),
        count(&consumed),
        "--emit all passes every record it reads on to the annotated topic"
    );
    let compromised: BTreeSet<String> = String::from_utf8_lossy(&annotated)
        .lines()
        .filter_map(|line| {
            let v =
                json::parse(line).unwrap_or_else(|e| panic!("annotated record not JSON ({e}): {line:.200}"));
            let verdict = v
                .get("credtrail")
                .and_then(|c| c.get("verdict"))
                .and_then(json::Value::as_str);
            (verdict == Some("compromise")).then(|| {
                v.get("eventID")
                    .or_else(|| v.get("detail").and_then(|d| d.get("eventID")))
                    .and_then(json::Value::as_str)
                    .expect("eventID")
                    .to_owned()
            })
        })
        .collect();
    assert_same_alerts("recipe emit-all-kafka", &compromised, &want);
}

/// The shipped unit parses as systemd reads it: `systemd-analyze verify` exits 0 even on an unknown
/// key or a bad value (it only warns), so any output fails the test too. `--man=no`: the
/// `Documentation=man:credtrail(1)` page need not be installed here.
#[test]
fn systemd_unit_verifies() {
    let Some(analyze) = runner("systemd unit", "systemd-analyze") else {
        return;
    };
    let unit = pipeline("systemd/credtrail.service");
    let out = run(
        "systemd-analyze verify",
        Command::new(analyze).args(["verify", "--man=no"]).arg(&unit),
        Duration::from_secs(60),
    );
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {}: {}\n{said}",
        unit.display(),
        out.status
    );
    let text = fs::read_to_string(&unit).expect("unit");
    for needed in [
        "User=credtrail",
        "StateDirectory=credtrail",
        "Restart=always",
        "--state \"$STATE_DIRECTORY/state.bin\"",
        "kcat -C",
        "kcat -P",
    ] {
        assert!(text.contains(needed), "credtrail.service lacks {needed}");
    }
}

#[test]
fn every_runner_has_a_readme_and_an_executable_demo() {
    for runner in ["kafka", "vector", "fluent-bit", "fluentd", "shell"] {
        let readme = pipeline(&format!("{runner}/README.md"));
        assert!(readme.is_file(), "{} missing", readme.display());
        let demo = pipeline(&format!("{runner}/demo"));
        assert!(
            is_executable(&demo),
            "{} missing or not executable",
            demo.display()
        );
    }
}

#[test]
fn eventid_extraction() {
    let out = br#"{"b":1,"eventID":"x\"y","credtrail":{"verdict":"compromise"}}
{"detail-type":"AWS API Call via CloudTrail","detail":{"eventID":"z\u00e9","n":[1,2.5e3,true,null]}}
"#;
    assert_eq!(event_ids("test", out), vec!["x\"y".to_owned(), "zé".to_owned()]);
    assert!(librdkafka_at_least_2_2(
        "Version 1.7.1 (JSON, librdkafka 2.16.0 builtin.features=gzip)"
    ));
    assert!(!librdkafka_at_least_2_2(
        "Version 1.7.1 (JSON, librdkafka 2.0.2 builtin.features=gzip)"
    ));
}

/// Just enough JSON to read alert records without a dependency (std only, as the brief asks).
mod json {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(BTreeMap<String, Value>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(m) => m.get(key),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_f64(&self) -> Option<f64> {
            match self {
                Value::Number(n) => Some(*n),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            b: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing bytes at {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.b.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected '{}' at {}", c as char, self.i))
            }
        }
        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.b.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    let mut m = BTreeMap::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(m));
                    }
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.eat(b':')?;
                        let v = self.value()?;
                        m.insert(k, v);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Object(m));
                            }
                            _ => return Err(format!("expected ',' or '}}' at {}", self.i)),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut a = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(a));
                    }
                    loop {
                        a.push(self.value()?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Array(a));
                            }
                            _ => return Err(format!("expected ',' or ']' at {}", self.i)),
                        }
                    }
                }
                Some(b'"') => self.string().map(Value::String),
                Some(b't') => self.literal("true", Value::Bool(true)),
                Some(b'f') => self.literal("false", Value::Bool(false)),
                Some(b'n') => self.literal("null", Value::Null),
                Some(_) => self.number(),
                None => Err("unexpected end".to_owned()),
            }
        }
        fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
            if self.b[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(v)
            } else {
                Err(format!("bad literal at {}", self.i))
            }
        }
        fn number(&mut self) -> Result<Value, String> {
            let start = self.i;
            while self.i < self.b.len()
                && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            {
                self.i += 1;
            }
            std::str::from_utf8(&self.b[start..self.i])
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Value::Number)
                .ok_or_else(|| format!("bad number at {start}"))
        }
        fn hex4(&mut self) -> Result<u32, String> {
            let s = self.b.get(self.i..self.i + 4).ok_or("short \\u escape")?;
            self.i += 4;
            u32::from_str_radix(std::str::from_utf8(s).map_err(|e| e.to_string())?, 16)
                .map_err(|e| e.to_string())
        }
        fn string(&mut self) -> Result<String, String> {
            if self.b.get(self.i) != Some(&b'"') {
                return Err(format!("expected a string at {}", self.i));
            }
            self.i += 1;
            let mut out = Vec::new();
            loop {
                let c = *self.b.get(self.i).ok_or("unterminated string")?;
                self.i += 1;
                match c {
                    b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                    b'\\' => {
                        let e = *self.b.get(self.i).ok_or("unterminated escape")?;
                        self.i += 1;
                        let ch = match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => {
                                let hi = self.hex4()?;
                                let code = if (0xD800..0xDC00).contains(&hi)
                                    && self.b[self.i..].starts_with(b"\\u")
                                {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                                } else {
                                    hi
                                };
                                char::from_u32(code).unwrap_or('\u{FFFD}')
                            }
                            _ => return Err(format!("bad escape at {}", self.i)),
                        };
                        let mut buf = [0; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => out.push(c),
                }
            }
        }
    }
}
