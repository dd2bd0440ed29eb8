//! shared/WORKLOADS.md on Tokio, one workload per process:
//!
//!     tokio_workloads <workload> [scale] [threads]
//!     tokio_workloads http_server <port> [threads]
//!
//! A multi-thread runtime of `threads` workers (default 2); work is started from a task on a
//! worker (not from block_on's thread) unless the workload says otherwise. Prints
//! `RESULT tokio <workload> <metric>=<value> ...` like bench/workloads.cc.
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

static mut SCALE: f64 = 1.0;
static mut THREADS: usize = 2;

fn scale() -> f64 {
    unsafe { SCALE }
}

fn scaled(n: usize) -> usize {
    ((n as f64 * scale()) as usize).max(1)
}

/// bench/workloads.cc: fib(27) at scale 1, about scale x the calls otherwise.
fn fib_n() -> u32 {
    (27 + ((scale().ln() / 1.618f64.ln()).round() as i64)).max(2) as u32
}

fn fib_value(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let t = a + b;
        a = b;
        b = t;
    }
    a
}

/// A power of 10 nearest to 1,000,000 x scale.
fn skynet_leaves() -> u64 {
    10u64.pow((6 + scale().log10().round() as i64).max(1) as u32)
}

fn cpu_s() -> f64 {
    let mut ru: libc_rusage = unsafe { std::mem::zeroed() };
    unsafe { getrusage(0, &mut ru) };
    (ru.utime_s + ru.stime_s) as f64 + (ru.utime_us + ru.stime_us) as f64 * 1e-6
}

// getrusage(RUSAGE_SELF) without the libc crate: the first two fields are struct timevals.
#[repr(C)]
struct libc_rusage {
    utime_s: i64,
    utime_us: i64,
    stime_s: i64,
    stime_us: i64,
    rest: [i64; 14],
}
extern "C" {
    fn getrusage(who: i32, usage: *mut libc_rusage) -> i32;
}

fn rss_kb() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(unsafe { THREADS })
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `f` as a task on a worker and waits for it from this thread.
fn run<F, T>(f: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime();
    rt.block_on(async { tokio::spawn(f).await.unwrap() })
}

/// Wakes the waiter once count_down() has been called n times, from any thread.
struct Countdown {
    remaining: AtomicUsize,
    done: Notify,
}

impl Countdown {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Countdown { remaining: AtomicUsize::new(n), done: Notify::new() })
    }
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one(); // stores a permit if the waiter is not waiting yet
        }
    }
    async fn wait(&self) {
        self.done.notified().await;
    }
}

fn spawn_many() -> String {
    let n = scaled(1_000_000);
    let secs = run(async move {
        let c = Countdown::new(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let c = c.clone();
            tokio::spawn(async move { c.count_down() });
        }
        c.wait().await;
        t0.elapsed().as_secs_f64()
    });
    format!("tasks_per_s={:.0}", n as f64 / secs)
}

fn spawn_many_remote() -> String {
    let n = scaled(1_000_000);
    let rt = runtime();
    let c = Countdown::new(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let c = c.clone();
        rt.spawn(async move { c.count_down() });
    }
    let c2 = c.clone();
    rt.block_on(async move { c2.wait().await });
    format!("tasks_per_s={:.0}", n as f64 / t0.elapsed().as_secs_f64())
}

fn yield_many() -> String {
    let (tasks, yields) = (scaled(200), 1000);
    let secs = run(async move {
        let c = Countdown::new(tasks);
        let t0 = Instant::now();
        for _ in 0..tasks {
            let c = c.clone();
            tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                c.count_down();
            });
        }
        c.wait().await;
        t0.elapsed().as_secs_f64()
    });
    format!("yields_per_s={:.0}", (tasks * yields) as f64 / secs)
}

async fn player(
    rounds: usize,
    serve: bool,
    mut inbox: tokio::sync::mpsc::Receiver<u64>,
    peer: tokio::sync::mpsc::Sender<u64>,
) {
    if serve {
        peer.send(0).await.unwrap();
    }
    for i in 0..rounds {
        let v = inbox.recv().await.unwrap();
        if !serve || i + 1 < rounds {
            peer.send(v + 1).await.unwrap();
        }
    }
}

/// Two current_thread runtimes on two threads (cross-thread), or both players on one.
fn ping_pong(xthread: bool) -> String {
    let rounds = scaled(100_000);
    let (to_a, a_in) = tokio::sync::mpsc::channel(1);
    let (to_b, b_in) = tokio::sync::mpsc::channel(1);
    let single = || tokio::runtime::Builder::new_current_thread().build().unwrap();
    let t0 = Instant::now();
    if xthread {
        let other = std::thread::spawn(move || single().block_on(player(rounds, false, b_in, to_a)));
        single().block_on(player(rounds, true, a_in, to_b));
        other.join().unwrap();
    } else {
        single().block_on(async move {
            let pong = tokio::spawn(player(rounds, false, b_in, to_a));
            player(rounds, true, a_in, to_b).await;
            pong.await.unwrap();
        });
    }
    format!("ns_per_rtt={:.1}", t0.elapsed().as_secs_f64() * 1e9 / rounds as f64)
}

fn chain(left: usize, c: Arc<Countdown>) {
    if left == 0 {
        c.count_down();
    } else {
        tokio::spawn(async move { chain(left - 1, c) });
    }
}

fn chained_spawn() -> String {
    let hops = scaled(1_000_000);
    let secs = run(async move {
        let c = Countdown::new(1);
        let t0 = Instant::now();
        let c2 = c.clone();
        tokio::spawn(async move { chain(hops, c2) });
        c.wait().await;
        t0.elapsed().as_secs_f64()
    });
    format!("ns_per_hop={:.1}", secs * 1e9 / hops as f64)
}

/// The tasks fib(n) spawns (every call but the root): 2 fib(n+1) - 2, counted rather than
/// bumped on a shared counter, whose cache-line transfers dominated the workload
/// (bench/workloads.cc, fib_tasks).
fn fib_tasks(n: u32) -> u64 {
    2 * fib_value(n + 1) - 2
}

fn fib(n: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            return n as u64;
        }
        let a = tokio::spawn(fib(n - 1));
        let b = tokio::spawn(fib(n - 2));
        a.await.unwrap() + b.await.unwrap()
    })
}

fn fib_fork_join() -> String {
    let n = fib_n();
    let (v, secs) = run(async move {
        let t0 = Instant::now();
        let v = tokio::spawn(fib(n)).await.unwrap();
        (v, t0.elapsed().as_secs_f64())
    });
    assert_eq!(v, fib_value(n));
    let tasks = fib_tasks(n);
    format!("seconds={:.4} tasks_per_s={:.0}", secs, tasks as f64 / secs)
}

/// A small deterministic generator (no rand crate): splitmix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
}

fn timers() -> String {
    let n = scaled(100_000);
    let cpu0 = cpu_s();
    let secs = run(async move {
        let c = Countdown::new(n);
        let mut rng = Rng(42);
        let t0 = Instant::now();
        for _ in 0..n {
            let c = c.clone();
            let d = Duration::from_micros(rng.next() % 100_001);
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                c.count_down();
            });
        }
        c.wait().await;
        t0.elapsed().as_secs_f64()
    });
    format!("overhead_ms={:.2} cpu_s={:.3}", (secs - 0.100) * 1e3, cpu_s() - cpu0)
}

/// Polls a Sleep once (which registers its timer), then is ready.
struct PollOnce<'a>(Pin<&'a mut tokio::time::Sleep>);

impl Future for PollOnce<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let _ = self.0.as_mut().poll(cx);
        Poll::Ready(())
    }
}

/// A Sleep registers its timer when first polled; dropping it cancels the timer. One thread.
fn timer_cancel() -> String {
    let n = scaled(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let secs = rt.block_on(async move {
        let t0 = Instant::now();
        let mut sleeps = Vec::with_capacity(n);
        for _ in 0..n {
            let mut s = Box::pin(tokio::time::sleep(Duration::from_secs(10)));
            PollOnce(s.as_mut()).await;
            sleeps.push(s);
        }
        drop(sleeps);
        t0.elapsed().as_secs_f64()
    });
    format!("ops_per_s={:.0}", n as f64 / secs)
}

fn blocking(sleep: bool) -> String {
    let n = if sleep { scaled(2000) } else { scaled(100_000) };
    let secs = run(async move {
        let t0 = Instant::now();
        let calls: Vec<_> = (0..n as u64)
            .map(|i| {
                tokio::task::spawn_blocking(move || {
                    if sleep {
                        std::thread::sleep(Duration::from_millis(1));
                        i
                    } else {
                        i + 1
                    }
                })
            })
            .collect();
        let mut sum = 0u64;
        for c in calls {
            sum += c.await.unwrap();
        }
        let n = n as u64;
        assert_eq!(sum, if sleep { n * (n - 1) / 2 } else { n * (n + 1) / 2 });
        t0.elapsed().as_secs_f64()
    });
    if sleep {
        format!("seconds={:.4}", secs)
    } else {
        format!("calls_per_s={:.0}", n as f64 / secs)
    }
}

fn idle_tasks_memory() -> String {
    let n = scaled(100_000);
    let (rss0, rss1) = run(async move {
        let c = Countdown::new(n);
        let rss0 = rss_kb();
        for _ in 0..n {
            let c = c.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                c.count_down();
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // all started, sleeping
        let rss1 = rss_kb();
        c.wait().await;
        (rss0, rss1)
    });
    format!("bytes_per_task={:.0}", (rss1 - rss0) as f64 * 1024.0 / n as f64)
}

fn skynet_node(num: u64, size: u64, div: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let sub = size / div;
        let children: Vec<_> =
            (0..div).map(|i| tokio::spawn(skynet_node(num + i * sub, sub, div))).collect();
        let mut sum = 0;
        for c in children {
            sum += c.await.unwrap();
        }
        sum
    })
}

fn skynet() -> String {
    let leaves = skynet_leaves();
    let (v, secs) = run(async move {
        let t0 = Instant::now();
        let v = tokio::spawn(skynet_node(0, leaves, 10)).await.unwrap();
        (v, t0.elapsed().as_secs_f64())
    });
    assert_eq!(v, leaves * (leaves - 1) / 2);
    format!("seconds={:.4}", secs)
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\
Server: tokio\r\n\r\nHello, World!";

/// W8: a task per connection; answers every complete request read (pipelining-safe).
async fn session(mut s: tokio::net::TcpStream) {
    let mut buf = Vec::with_capacity(8192);
    let mut out = Vec::with_capacity(8192);
    let mut tmp = [0u8; 8192];
    loop {
        let k = match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(k) => k,
        };
        buf.extend_from_slice(&tmp[..k]);
        let mut pos = 0;
        while let Some(i) = buf[pos..].windows(4).position(|w| w == b"\r\n\r\n") {
            out.extend_from_slice(RESPONSE);
            pos += i + 4;
        }
        buf.drain(..pos);
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

fn http_server(port: u16) {
    runtime().block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(async move {
            loop {
                if let Ok((s, _)) = listener.accept().await {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(session(s));
                }
            }
        })
        .await
        .unwrap();
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: tokio_workloads <workload> [scale] [threads]");
        std::process::exit(2);
    }
    if let Some(t) = args.get(3) {
        unsafe { THREADS = t.parse::<usize>().unwrap_or(2).max(1) };
    }
    let w = args[1].as_str();
    if w == "http_server" {
        http_server(args[2].parse().unwrap());
        return;
    }
    if let Some(s) = args.get(2) {
        unsafe { SCALE = s.parse().unwrap_or(1.0) };
    }
    let out = match w {
        "spawn_many" => spawn_many(),
        "spawn_many_remote" => spawn_many_remote(),
        "yield_many" => yield_many(),
        "ping_pong_xthread" => ping_pong(true),
        "ping_pong_local" => ping_pong(false),
        "chained_spawn" => chained_spawn(),
        "fib_fork_join" => fib_fork_join(),
        "timers" => timers(),
        "timer_cancel" => timer_cancel(),
        "blocking_pool" => blocking(false),
        "blocking_sleep" => blocking(true),
        "idle_tasks_memory" => idle_tasks_memory(),
        "skynet" => skynet(),
        _ => {
            eprintln!("unknown workload: {}", w);
            std::process::exit(2);
        }
    };
    println!("RESULT tokio {} {}", w, out);
}
