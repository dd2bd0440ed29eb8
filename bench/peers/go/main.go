// shared/WORKLOADS.md on Go's scheduler, one workload per process:
//
//	go_workloads <workload> [scale] [threads]
//	go_workloads http_server <port> [threads]
//
// The driver (bench/suite.py) sets GOMAXPROCS to the thread count. Prints
// `RESULT go <workload> <metric>=<value> ...` like bench/workloads.cc. Go has no blocking
// pool and no thread outside the runtime: those workloads say unsupported.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var scale = 1.0

func scaled(n int) int {
	v := int(float64(n) * scale)
	if v < 1 {
		return 1
	}
	return v
}

// bench/workloads.cc: fib(27) at scale 1, about scale x the calls otherwise.
func fibN() int {
	n := 27 + int(math.Round(math.Log(scale)/math.Log(1.618)))
	if n < 2 {
		return 2
	}
	return n
}

func fibValue(n int) int64 {
	var a, b int64 = 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

// A power of 10 nearest to 1,000,000 x scale.
func skynetLeaves() int64 {
	d := 6 + int(math.Round(math.Log10(scale)))
	if d < 1 {
		d = 1
	}
	l := int64(1)
	for i := 0; i < d; i++ {
		l *= 10
	}
	return l
}

func cpuS() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

func rssKB() int64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}

// countdown closes done once Down has been called n times, from any goroutine.
type countdown struct {
	remaining int64
	done      chan struct{}
}

func newCountdown(n int) *countdown {
	return &countdown{remaining: int64(n), done: make(chan struct{})}
}

func (c *countdown) Down() {
	if atomic.AddInt64(&c.remaining, -1) == 0 {
		close(c.done)
	}
}

func spawnMany() string {
	n := scaled(1000000)
	c := newCountdown(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go c.Down()
	}
	<-c.done
	return fmt.Sprintf("tasks_per_s=%.0f", float64(n)/time.Since(t0).Seconds())
}

func yieldMany() string {
	tasks, yields := scaled(200), 1000
	c := newCountdown(tasks)
	t0 := time.Now()
	for i := 0; i < tasks; i++ {
		go func() {
			for j := 0; j < yields; j++ {
				runtime.Gosched()
			}
			c.Down()
		}()
	}
	<-c.done
	return fmt.Sprintf("yields_per_s=%.0f", float64(tasks*yields)/time.Since(t0).Seconds())
}

// pingPong: two goroutines bounce a token through unbuffered channels. Cross-thread: each is
// locked to its own OS thread. Local: GOMAXPROCS=1, both on the one P.
func pingPong(xthread bool) string {
	rounds := scaled(100000)
	if !xthread {
		runtime.GOMAXPROCS(1)
	}
	a, b := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() {
		if xthread {
			runtime.LockOSThread()
		}
		for i := 0; i < rounds; i++ {
			v := <-b
			a <- v + 1
		}
		close(done)
	}()
	if xthread {
		runtime.LockOSThread()
	}
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		b <- i
		<-a
	}
	secs := time.Since(t0).Seconds()
	<-done
	return fmt.Sprintf("ns_per_rtt=%.1f", secs*1e9/float64(rounds))
}

func chain(left int, c *countdown) {
	if left == 0 {
		c.Down()
		return
	}
	go chain(left-1, c)
}

func chainedSpawn() string {
	hops := scaled(1000000)
	c := newCountdown(1)
	t0 := time.Now()
	go chain(hops, c)
	<-c.done
	return fmt.Sprintf("ns_per_hop=%.1f", time.Since(t0).Seconds()*1e9/float64(hops))
}

// The tasks fib(n) starts (every call but the root): 2 fib(n+1) - 2, counted rather than
// bumped on a shared counter, whose cache-line transfers dominated the workload
// (bench/workloads.cc, fib_tasks).
func fibTasks(n int) int64 { return 2*fibValue(n+1) - 2 }

func fib(n int) int64 {
	if n < 2 {
		return int64(n)
	}
	var x, y int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { x = fib(n - 1); wg.Done() }()
	go func() { y = fib(n - 2); wg.Done() }()
	wg.Wait()
	return x + y
}

func fibForkJoin() string {
	n := fibN()
	t0 := time.Now()
	res := make(chan int64)
	go func() { res <- fib(n) }()
	v := <-res
	secs := time.Since(t0).Seconds()
	if v != fibValue(n) {
		fmt.Fprintf(os.Stderr, "fib(%d) = %d, wrong\n", n, v)
		os.Exit(1)
	}
	return fmt.Sprintf("seconds=%.4f tasks_per_s=%.0f", secs, float64(fibTasks(n))/secs)
}

func timers() string {
	n := scaled(100000)
	rng := rand.New(rand.NewSource(42))
	c := newCountdown(n)
	cpu0 := cpuS()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		d := time.Duration(rng.Intn(100001)) * time.Microsecond
		go func() {
			time.Sleep(d)
			c.Down()
		}()
	}
	<-c.done
	secs := time.Since(t0).Seconds()
	return fmt.Sprintf("overhead_ms=%.2f cpu_s=%.3f", (secs-0.100)*1e3, cpuS()-cpu0)
}

func timerCancel() string {
	n := scaled(1000000)
	timers := make([]*time.Timer, n)
	f := func() {}
	t0 := time.Now()
	for i := range timers {
		timers[i] = time.AfterFunc(10*time.Second, f)
	}
	for _, t := range timers {
		t.Stop()
	}
	return fmt.Sprintf("ops_per_s=%.0f", float64(n)/time.Since(t0).Seconds())
}

func idleTasksMemory() string {
	n := scaled(100000)
	c := newCountdown(n)
	runtime.GC()
	rss0 := rssKB()
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Second)
			c.Down()
		}()
	}
	time.Sleep(200 * time.Millisecond) // every goroutine has started and sleeps
	rss1 := rssKB()
	<-c.done
	return fmt.Sprintf("bytes_per_task=%.0f", float64(rss1-rss0)*1024/float64(n))
}

func skynetNode(c chan<- int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64, div)
	sub := size / div
	for i := int64(0); i < div; i++ {
		go skynetNode(rc, num+i*sub, sub, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynet() string {
	leaves := skynetLeaves()
	c := make(chan int64, 1)
	t0 := time.Now()
	go skynetNode(c, 0, leaves, 10)
	v := <-c
	secs := time.Since(t0).Seconds()
	if v != leaves*(leaves-1)/2 {
		fmt.Fprintf(os.Stderr, "skynet = %d, wrong\n", v)
		os.Exit(1)
	}
	return fmt.Sprintf("seconds=%.4f", secs)
}

var response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n" +
	"Server: go\r\n\r\nHello, World!")

// W8: a goroutine per connection; answers every complete request read (pipelining-safe).
func serve(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 0, 8192)
	tmp := make([]byte, 8192)
	w := bufio.NewWriterSize(conn, 8192)
	sep := []byte("\r\n\r\n")
	for {
		k, err := conn.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:k]...)
		consumed := 0
		for {
			i := bytes.Index(buf[consumed:], sep)
			if i < 0 {
				break
			}
			w.Write(response)
			consumed += i + 4
		}
		buf = append(buf[:0], buf[consumed:]...)
		if w.Flush() != nil {
			return
		}
	}
}

func httpServer(port string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go serve(conn)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_workloads <workload> [scale] [threads]")
		os.Exit(2)
	}
	w := os.Args[1]
	if w == "http_server" {
		httpServer(os.Args[2])
		return
	}
	if len(os.Args) > 2 {
		scale, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	fns := map[string]func() string{
		"spawn_many":        spawnMany,
		"yield_many":        yieldMany,
		"ping_pong_xthread": func() string { return pingPong(true) },
		"ping_pong_local":   func() string { return pingPong(false) },
		"chained_spawn":     chainedSpawn,
		"fib_fork_join":     fibForkJoin,
		"timers":            timers,
		"timer_cancel":      timerCancel,
		"idle_tasks_memory": idleTasksMemory,
		"skynet":            skynet,
	}
	fn, ok := fns[w]
	if !ok {
		switch w {
		case "spawn_many_remote", "blocking_pool", "blocking_sleep":
			fmt.Printf("RESULT go %s unsupported=1\n", w)
			return
		}
		fmt.Fprintf(os.Stderr, "unknown workload: %s\n", w)
		os.Exit(2)
	}
	fmt.Printf("RESULT go %s %s\n", w, fn())
}
