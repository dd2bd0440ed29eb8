// pipeline: a parallel I/O pipeline on a Runtime. Lines come from files and from a
// subprocess, go through bounded queues to transform workers spread over every loop, then to
// blocking work in the pool, and a single writer puts the results in an output file.
//
//   pipeline [--threads N] [--queue-size N] [--workers N] [--hashers N] [--block-us N]
//            [--cmd 'shell command'] [--output PATH] FILE...
//
//   sources ──raw──▶ transform workers ──transformed──▶ hash workers ──results──▶ writer
//   (files: pool reads,     (spawned: any loop,      (spawned; the hash        (one task,
//    `sh -c CMD`: stream)    reverse + upper-case)    runs in the pool)         pool writes)
//
// Every arrow is a weft::Queue bounded by --queue-size (default 8): a stage that runs ahead
// waits in put() for room, and the wait travels upstream to the sources, which stop reading.
// That is the back-pressure; the summary counts the puts that found their queue full.
//
// Output: one line per input line, "<source>\t<line number>\t<hash>\t<transformed line>",
// where <source> is the index of the input (files in the order given, then the subprocess),
// line numbers start at 1, the transformed line is the input line reversed and upper-cased
// (ASCII), and <hash> is the 64-bit FNV-1a of the transformed line in 16 hex digits. The lines
// of one source come out in their input order (the writer puts back in order what the
// parallel stages shuffled); lines of different sources are interleaved as they arrive.
//
// The summary (lines per source, totals, queue depths and full-queue waits, elapsed time)
// goes to stderr, after "started: ..." once every stage runs.
//
// Shutting down. Normally by Queue::shutdown (asyncio 3.13), which does what one sentinel per
// consumer would: once the sources are done the raw queue is shut down, the transform workers
// drain it and stop, then the transformed queue is shut down, and so on down the pipeline.
// Structure: one TaskGroup holds the four stages (a failure anywhere cancels the rest); each
// stage of spawned workers is an inner TaskGroup of pinned children that await them
// (join_spawned below).
//
// Ctrl-C: weft::run turns the first SIGINT into a cancellation of the main task (as asyncio's
// Runner). The task group cancels every stage; the writer finishes the write in flight and
// writes the lines it holds (so the output ends on a line boundary); the subprocess is killed
// and reaped; then the summary, "cancelled after N lines" (N: lines in the output) and exit
// status 130, as Python's on KeyboardInterrupt.
//
// --block-us N makes each hash call also sleep N microseconds in the pool (a stand-in for a
// slow blocking call, e.g. a synchronous write to a slow disk), which makes the pool stage
// the bottleneck.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/subprocess.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "scheduler/to_thread.h"
#include "sync/queue.h"

namespace {

struct Config {
  size_t threads = 2;
  size_t queue_size = 8;
  int workers = 4;
  int hashers = 4;
  int block_us = 0;
  std::string cmd = "seq 1 1000";
  std::string output = "-";
  std::vector<std::string> files;
};

// One line on its way through the pipeline.
struct Line {
  uint32_t source = 0;
  uint64_t number = 0;  // 1-based, within its source
  std::string text;     // without the '\n'
  uint64_t hash = 0;    // set by the hash stage
};

// ---- Counters (updated from every loop and read by main() once weft::run returned) ----

struct QueueStats {
  const char* name;
  std::atomic<uint64_t> full_waits{0};  // puts that found the queue full (and so waited)
  std::atomic<size_t> max_depth{0};     // the most items seen in the queue after a put

  void note_depth(size_t depth) {
    size_t seen = max_depth.load(std::memory_order_relaxed);
    while (depth > seen && !max_depth.compare_exchange_weak(seen, depth,
                                                            std::memory_order_relaxed)) {
    }
  }
};

struct SourceStats {
  std::string name;
  std::atomic<uint64_t> read{0};
  std::atomic<uint64_t> written{0};
};

struct Stats {
  explicit Stats(size_t num_sources) : sources(num_sources) {}
  std::vector<SourceStats> sources;
  QueueStats raw{"raw"};
  QueueStats transformed{"transformed"};
  QueueStats results{"results"};
  std::atomic<uint64_t> written{0};
  std::optional<int> subprocess_status;
};

// Puts `item`, counting the puts that found the queue full: those wait in put() until a
// consumer makes room (full() is a snapshot: a put that sees a full queue an instant before a
// get frees a slot still counts, as it would have waited an instant earlier).
template <class T>
weft::Coro<void> put_counted(weft::Queue<T>& queue, T item, QueueStats& stats) {
  if (queue.full()) stats.full_waits.fetch_add(1, std::memory_order_relaxed);
  co_await queue.put(std::move(item));
  stats.note_depth(queue.qsize());
}

// ---- Sources ----

// A note on g++ 12: no temporary of a type with a destructor (a lambda holding a string, a
// Line, a by-value argument of a coroutine) may appear inside a co_await expression: GCC bug
// 99576 destroys it twice. Hence the named calls below (`auto reading = to_thread(...);
// co_await std::move(reading);`).

// Counts a line read from `source` and puts it in the raw queue.
weft::Coro<void> put_line(weft::Queue<Line>& raw, uint32_t source, uint64_t number,
                          std::string text, Stats& stats) {
  stats.sources[source].read.fetch_add(1, std::memory_order_relaxed);
  weft::Coro<void> put = put_counted(raw, Line{source, number, std::move(text)}, stats.raw);
  co_await std::move(put);
}

// An input file, shared between the source task and its read calls in the pool: a read that
// is still running when its task is cancelled keeps the descriptor open until it returns.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) weft::raise_os_error(errno, "cannot open '" + path + "'");
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Up to `max` bytes at `offset`; "" at end of file. Blocks.
  std::string read_at(off_t offset, size_t max) const {
    std::string buf(max, '\0');
    for (;;) {
      ssize_t n = ::pread(fd_, buf.data(), max, offset);
      if (n >= 0) {
        buf.resize(static_cast<size_t>(n));
        return buf;
      }
      if (errno != EINTR) weft::raise_os_error(errno, "read");
    }
  }

 private:
  int fd_;
};

constexpr size_t kReadChunk = 64 * 1024;

// Reads a file a chunk at a time in the blocking pool and puts its lines in `raw`.
//
// Why the pool and not a stream over the descriptor: epoll refuses regular files (EPERM), and
// a read of one never returns EAGAIN anyway: it blocks on the disk. So file reads are blocking
// calls, and blocking calls go to the pool (as asyncio's aiofiles does with threads). The next
// chunk is read only once every line of this one is in the queue: a full queue stops the
// reading.
weft::Coro<void> read_file(uint32_t source, std::string path, weft::Queue<Line>& raw,
                           Stats& stats) {
  auto opening = weft::to_thread([path] { return std::make_shared<InputFile>(path); });
  std::shared_ptr<InputFile> file = co_await std::move(opening);
  std::string pending;  // the start of a line that continues in the next chunk
  uint64_t number = 0;
  off_t offset = 0;
  for (;;) {
    auto reading = weft::to_thread([file, offset] { return file->read_at(offset, kReadChunk); });
    std::string chunk = co_await std::move(reading);
    if (chunk.empty()) break;
    offset += static_cast<off_t>(chunk.size());
    size_t start = 0;
    for (size_t nl; (nl = chunk.find('\n', start)) != std::string::npos; start = nl + 1) {
      pending.append(chunk, start, nl - start);
      weft::Coro<void> put = put_line(raw, source, ++number, std::move(pending), stats);
      co_await std::move(put);
      pending.clear();
    }
    pending.append(chunk, start, std::string::npos);
  }
  if (!pending.empty()) {  // a last line without '\n'
    weft::Coro<void> put = put_line(raw, source, ++number, std::move(pending), stats);
    co_await std::move(put);
  }
}

// Reads the subprocess's stdout, a pipe, as a StreamReader: a pipe is what epoll is for, so
// this source needs no thread. The Process belongs to the main task, which kills and reaps
// it however the pipeline ends.
weft::Coro<void> read_subprocess(uint32_t source, weft::Process& proc, weft::Queue<Line>& raw,
                                 Stats& stats) {
  uint64_t number = 0;
  for (;;) {
    std::string line = co_await proc.stdout()->readline();
    if (line.empty()) break;  // end of file
    if (line.back() == '\n') line.pop_back();
    weft::Coro<void> put = put_line(raw, source, ++number, std::move(line), stats);
    co_await std::move(put);
  }
}

// Every source, at once; when all are done, the raw queue is shut down, which tells the
// transform workers to stop once it is empty.
weft::Coro<void> read_sources(const Config& cfg, weft::Process& proc, weft::Queue<Line>& raw,
                              Stats& stats) {
  co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Coro<void> {
    for (uint32_t i = 0; i < cfg.files.size(); ++i) {
      tg.create_task(read_file(i, cfg.files[i], raw, stats), "read " + cfg.files[i]);
    }
    const auto sub = static_cast<uint32_t>(cfg.files.size());
    tg.create_task(read_subprocess(sub, proc, raw, stats), "read subprocess");
    co_return;
  });
  raw.shutdown();
}

// ---- The parallel stages ----

// The CPU transform: the line reversed and upper-cased (ASCII).
void transform(std::string& text) {
  std::reverse(text.begin(), text.end());
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
}

// 64-bit FNV-1a.
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

weft::Coro<void> transform_worker(weft::Queue<Line>& in, weft::Queue<Line>& out, Stats& stats) {
  for (;;) {
    std::optional<Line> line;
    try {
      line.emplace(co_await in.get());
    } catch (const weft::QueueShutDown&) {
      co_return;  // shut down and drained: the stage is over
    }
    transform(line->text);
    weft::Coro<void> put = put_counted(out, std::move(*line), stats.transformed);
    co_await std::move(put);
  }
}

// Hashes each line in the blocking pool (sleeping --block-us there first): the line moves
// into the pool call and back out with its hash.
weft::Coro<void> hash_worker(weft::Queue<Line>& in, weft::Queue<Line>& out, int block_us,
                             Stats& stats) {
  for (;;) {
    std::optional<Line> line;
    try {
      line.emplace(co_await in.get());
    } catch (const weft::QueueShutDown&) {
      co_return;
    }
    auto hashing = weft::to_thread([block_us, l = std::move(*line)]() mutable {
      if (block_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(block_us));
      l.hash = fnv1a(l.text);
      return std::move(l);
    });
    Line hashed = co_await std::move(hashing);
    weft::Coro<void> put = put_counted(out, std::move(hashed), stats.results);
    co_await std::move(put);
  }
}

// A TaskGroup's children are pinned to its loop. A spawned (migratable) worker joins the
// group through this pinned child that awaits it: the group's cancellation reaches the worker
// (cancelling a task that awaits another cancels that one, and waits for it to finish), and
// the worker's failure reaches the group.
weft::Coro<void> join_spawned(weft::Task<void> worker) { co_await worker; }

// Spawns `count` workers made by make_worker(), waits until all have stopped (their input
// queue was shut down and drained), then shuts `next` down for the stage after.
template <class MakeWorker>
weft::Coro<void> run_stage(std::string name, int count, MakeWorker make_worker,
                           weft::Queue<Line>& next) {
  co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Coro<void> {
    for (int i = 0; i < count; ++i) {
      std::string worker_name = name + " " + std::to_string(i);
      tg.create_task(join_spawned(weft::spawn(make_worker(), worker_name)),
                     "join " + worker_name);
    }
    co_return;
  });
  next.shutdown();
}

// ---- The writer ----

// Where the results go. Writes are blocking calls (a regular file, or a stdout that may be a
// slow terminal), made in the pool; shared with those calls so that it outlives them.
class Output {
 public:
  explicit Output(const std::string& path) {
    if (path == "-") {
      fd_ = STDOUT_FILENO;
      return;
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) weft::raise_os_error(errno, "cannot create '" + path + "'");
    owned_ = true;
  }
  ~Output() {
    if (owned_) ::close(fd_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // Blocks.
  void write_all(const std::string& data) const {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        weft::raise_os_error(errno, "write");
      }
      done += static_cast<size_t>(n);
    }
  }

 private:
  int fd_ = -1;
  bool owned_ = false;
};

// Lines ready to be written, and how many of each source they hold.
struct Batch {
  explicit Batch(size_t num_sources) : lines_per_source(num_sources) {}
  // Moves the contents out, leaving this batch empty.
  Batch take() {
    Batch taken(lines_per_source.size());
    std::swap(taken, *this);
    return taken;
  }

  std::string text;
  std::vector<uint64_t> lines_per_source;
};

// Writes a batch in the pool, then counts its lines as written.
weft::Coro<void> write_batch(std::shared_ptr<Output> out, Batch batch, Stats& stats) {
  if (batch.text.empty()) co_return;
  auto writing = weft::to_thread([out, text = std::move(batch.text)] { out->write_all(text); });
  co_await std::move(writing);
  for (size_t s = 0; s < batch.lines_per_source.size(); ++s) {
    stats.sources[s].written.fetch_add(batch.lines_per_source[s], std::memory_order_relaxed);
    stats.written.fetch_add(batch.lines_per_source[s], std::memory_order_relaxed);
  }
}

// Puts each source's lines back in their input order: a line is released once every line
// before it in its source was. Holds at most the lines that overtook a slower one in the
// parallel stages.
class Reorderer {
 public:
  explicit Reorderer(size_t num_sources) : next_(num_sources, 1), held_(num_sources) {}

  // Adds `line` and moves every line it makes ready into `batch`.
  void add(Line line, Batch& batch) {
    const uint32_t s = line.source;
    held_[s].emplace(line.number, std::move(line));
    for (auto it = held_[s].begin(); it != held_[s].end() && it->first == next_[s];
         it = held_[s].erase(it), ++next_[s]) {
      append(it->second, batch);
    }
  }

  // Lines still held once the input is over: some line never arrived.
  size_t held() const {
    size_t n = 0;
    for (const auto& h : held_) n += h.size();
    return n;
  }

 private:
  static void append(const Line& line, Batch& batch) {
    char head[64];
    int n = std::snprintf(head, sizeof head, "%" PRIu32 "\t%" PRIu64 "\t%016" PRIx64 "\t",
                          line.source, line.number, line.hash);
    batch.text.append(head, static_cast<size_t>(n));
    batch.text.append(line.text);
    batch.text.push_back('\n');
    ++batch.lines_per_source[line.source];
  }

  std::vector<uint64_t> next_;
  std::vector<std::map<uint64_t, Line>> held_;
};

constexpr size_t kFlushBytes = 64 * 1024;

// The single writer: takes results, puts them back in order per source, and writes a batch
// whenever it holds kFlushBytes or the results queue has nothing more for now.
//
// A batch write is a task awaited through shield(): a cancellation (Ctrl-C) does not tear a
// write in half. On cancellation the writer waits for the write in flight, writes what it
// still holds in order, and only then lets the cancellation go on, so that the output is a
// whole number of lines and the count of lines written is exact.
weft::Coro<void> write_results(weft::Queue<Line>& results, std::shared_ptr<Output> out,
                               Stats& stats) {
  const size_t num_sources = stats.sources.size();
  Reorderer reorderer(num_sources);
  Batch batch(num_sources);
  std::optional<weft::Task<void>> in_flight;
  std::exception_ptr cancelled;
  try {
    for (;;) {
      std::optional<Line> line;
      try {
        line.emplace(co_await results.get());
      } catch (const weft::QueueShutDown&) {
        break;  // every result is in
      }
      reorderer.add(std::move(*line), batch);
      if (batch.text.size() >= kFlushBytes || (results.empty() && !batch.text.empty())) {
        in_flight = weft::create_task(write_batch(out, batch.take(), stats), "write batch");
        co_await weft::shield(*in_flight);
        in_flight.reset();
      }
    }
  } catch (const weft::CancelledError&) {
    cancelled = std::current_exception();
  }
  if (in_flight) co_await *in_flight;
  weft::Coro<void> last = write_batch(out, std::move(batch), stats);
  co_await std::move(last);
  if (cancelled) std::rethrow_exception(cancelled);
  if (size_t held = reorderer.held(); held > 0) {
    throw weft::RuntimeError("writer: " + std::to_string(held) +
                             " lines still wait for an earlier line that never came");
  }
}

// ---- The whole ----

weft::Coro<void> run_pipeline(const Config& cfg, Stats& stats) {
  weft::Queue<Line> raw(cfg.queue_size);
  weft::Queue<Line> transformed(cfg.queue_size);
  weft::Queue<Line> results(cfg.queue_size);
  auto out = std::make_shared<Output>(cfg.output);
  // Started here, on the main task's loop, which the Process belongs to.
  std::unique_ptr<weft::Process> proc = weft::create_subprocess_exec(
      "sh", {"-c", cfg.cmd}, {.stdout = weft::Stdio::kPipe});

  std::exception_ptr error;  // a failure, or the cancellation (Ctrl-C)
  try {
    co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Coro<void> {
      tg.create_task(read_sources(cfg, *proc, raw, stats), "sources");
      tg.create_task(run_stage(
                         "transform", cfg.workers,
                         [&] { return transform_worker(raw, transformed, stats); }, transformed),
                     "transform stage");
      tg.create_task(run_stage(
                         "hash", cfg.hashers,
                         [&] { return hash_worker(transformed, results, cfg.block_us, stats); },
                         results),
                     "hash stage");
      tg.create_task(write_results(results, out, stats), "writer");
      std::fprintf(stderr, "started: %zu sources, subprocess pid %d, %zu loops\n",
                   stats.sources.size(), static_cast<int>(proc->pid()), cfg.threads);
      co_return;
    });
  } catch (...) {
    error = std::current_exception();
  }
  // However the stages ended, the child is not left running: on a failure or a cancellation
  // it may still be writing (or sleeping), so it is killed; either way it is reaped.
  if (error && !proc->returncode()) proc->kill();
  stats.subprocess_status = co_await proc->wait();
  if (error) std::rethrow_exception(error);
}

void print_summary(const Config& cfg, const Stats& stats, double seconds) {
  std::fprintf(stderr, "summary:\n");
  for (size_t i = 0; i < stats.sources.size(); ++i) {
    const SourceStats& s = stats.sources[i];
    std::fprintf(stderr, "  source %zu (%s): read %" PRIu64 ", written %" PRIu64 "\n", i,
                 s.name.c_str(), s.read.load(), s.written.load());
  }
  if (stats.subprocess_status) {
    std::fprintf(stderr, "  subprocess exit status: %d\n", *stats.subprocess_status);
  }
  std::fprintf(stderr, "  total: %" PRIu64 " lines written\n", stats.written.load());
  for (const QueueStats* q : {&stats.raw, &stats.transformed, &stats.results}) {
    std::fprintf(stderr,
                 "  queue %s: maxsize %zu, max depth %zu, full-queue waits %" PRIu64 "\n",
                 q->name, cfg.queue_size, q->max_depth.load(), q->full_waits.load());
  }
  std::fprintf(stderr, "  full-queue waits: %" PRIu64 "\n",
               stats.raw.full_waits.load() + stats.transformed.full_waits.load() +
                   stats.results.full_waits.load());
  std::fprintf(stderr, "  elapsed: %.3f s\n", seconds);
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--threads N] [--queue-size N] [--workers N] [--hashers N]\n"
               "          [--block-us N] [--cmd 'shell command'] [--output PATH] FILE...\n",
               argv0);
  std::exit(2);
}

int positive(const char* argv0, const char* value) {
  char* end = nullptr;
  long v = std::strtol(value, &end, 10);
  if (*value == '\0' || *end != '\0' || v < 1 || v > 1'000'000) usage(argv0);
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      if (i + 1 >= argc) usage(argv[0]);
      const char* value = argv[++i];
      if (arg == "--threads") {
        cfg.threads = static_cast<size_t>(positive(argv[0], value));
      } else if (arg == "--queue-size") {
        cfg.queue_size = static_cast<size_t>(positive(argv[0], value));
      } else if (arg == "--workers") {
        cfg.workers = positive(argv[0], value);
      } else if (arg == "--hashers") {
        cfg.hashers = positive(argv[0], value);
      } else if (arg == "--block-us") {
        cfg.block_us = positive(argv[0], value);
      } else if (arg == "--cmd") {
        cfg.cmd = value;
      } else if (arg == "--output") {
        cfg.output = value;
      } else {
        usage(argv[0]);
      }
    } else {
      cfg.files.push_back(arg);
    }
  }

  Stats stats(cfg.files.size() + 1);
  for (size_t i = 0; i < cfg.files.size(); ++i) stats.sources[i].name = cfg.files[i];
  stats.sources.back().name = "sh -c '" + cfg.cmd + "'";

  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  try {
    weft::run(run_pipeline(cfg, stats), {.threads = cfg.threads});
  } catch (const weft::KeyboardInterrupt&) {
    status = 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeline: %s\n", e.what());
    status = 1;
  } catch (const weft::BaseException& e) {  // a cancellation that did not come from SIGINT
    std::fprintf(stderr, "pipeline: cancelled: %s\n", e.what());
    status = 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_summary(cfg, stats, seconds);
  if (status == 130) {
    std::fprintf(stderr, "cancelled after %" PRIu64 " lines\n", stats.written.load());
  } else if (status == 0 && stats.subprocess_status != 0) {
    std::fprintf(stderr, "pipeline: the subprocess exited with status %d\n",
                 stats.subprocess_status.value_or(-1));
    status = 1;
  }
  return status;
}
