package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// runLoad starts the stack, sets up the recruiters and drives the mix.
func runLoad(ctx context.Context, cfg *Config, logf func(string, ...any)) (*Report, error) {
	s, err := startStack(ctx, cfg, logf)
	if err != nil {
		return nil, err
	}
	defer s.close()
	c := newClient(s.serverURL, s.emuURL, s.jwtSecret, max(cfg.Concurrency, setupWorkers))

	if cfg.FillConnections > 0 {
		if s.dbURL == "" {
			return nil, fmt.Errorf("--fill-connections needs a database the harness created")
		}
		logf("inserting %d filler connections", cfg.FillConnections)
		if err := fillConnections(ctx, s.dbURL, cfg.FillConnections, cfg.FillTokenBytes); err != nil {
			return nil, err
		}
	}
	logf("setting up %d recruiters and %d colleagues", cfg.Recruiters, cfg.Colleagues)
	pop, err := setup(ctx, c, cfg, randomText(6))
	if err != nil {
		return nil, err
	}
	if err := setLatency(ctx, c, cfg.LatencyMs); err != nil {
		return nil, err
	}
	ru := &runner{cfg: cfg, c: c, pop: pop}
	if cfg.Warmup > 0 {
		logf("warming up for %s", cfg.Warmup)
		drive(ctx, ru, newRecorder(), cfg.Warmup, 0)
	}
	logf("measuring")
	return measure(ctx, s, ru)
}

// setLatency sets the emulator's added Graph latency.
func setLatency(ctx context.Context, c *client, ms int) error {
	if err := c.emulatorJSON(ctx, http.MethodPost, "/_admin/settings", "", map[string]int{"graphLatencyMs": ms}, nil); err != nil {
		return fmt.Errorf("set emulator latency: %w", err)
	}
	return nil
}

// usage is the CPU time used so far by the processes of a run.
type usage struct {
	server, emulator, harness time.Duration
	postgres                  map[int]time.Duration // by backend process id
}

func readUsage(ctx context.Context, s *stack) usage {
	var u usage
	if s.database != nil {
		u.postgres, _ = s.database.backendCPU(ctx)
	}
	if s.serverPID > 0 {
		u.server, _ = cpuTime(s.serverPID)
	}
	if s.emulator != nil {
		u.emulator, _ = cpuTime(s.emulator.pid())
	}
	u.harness, _ = cpuTime(os.Getpid())
	return u
}

// measure drives the measured window and builds the report.
func measure(ctx context.Context, s *stack, ru *runner) (*Report, error) {
	cfg := ru.cfg
	before, err := ru.c.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	var notes []string
	peak := watchRSS(s.serverPID, &notes)
	cpu0 := readUsage(ctx, s)

	rec := newRecorder()
	window := drive(ctx, ru, rec, cfg.Duration, cfg.Requests)

	cpu1 := readUsage(ctx, s)
	after, err := ru.c.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Scenario: cfg.Scenario, DB: cfg.DB, Mix: mixString(cfg.Mix), Rate: cfg.Rate, Concurrency: cfg.Concurrency,
		Recruiters: cfg.Recruiters, FillerRows: cfg.FillConnections, LatencyMs: cfg.LatencyMs, ByEmail: cfg.ByEmail,
		Idempotency: cfg.Idempotency, Window: window, ErrorSamples: rec.samples, ServerPeakRSS: peak(),
		ServerCPUCores: cores(cpu1.server-cpu0.server, window), EmuCPUCores: cores(cpu1.emulator-cpu0.emulator, window),
		HarnessCores: cores(cpu1.harness-cpu0.harness, window), Notes: notes,
	}
	if s.database != nil {
		r.PostgresCores = cores(cpuSince(cpu0.postgres, cpu1.postgres), window)
	}
	r.Kinds, r.Total, r.TotalErrors = summarize(rec, window)
	r.PerSecond = float64(r.Total) / window.Seconds()
	if r.Total > 0 {
		r.ServiceCPUPerOpMs = (r.ServerCPUCores + r.PostgresCores) * window.Seconds() * 1000 / float64(r.Total)
	}
	r.GraphRequests, r.TokenCalls = countDelta(before, after)
	r.GraphPerSend = graphPerSend(r)
	if n := ru.exhausted.Load(); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d send_new operations found no unused colleague; raise --colleagues", n))
	}
	return r, nil
}

func cores(cpu, window time.Duration) float64 {
	return cpu.Seconds() / window.Seconds()
}

// watchRSS starts a new peak RSS measurement of pid and returns the
// function that ends it. It uses the kernel's VmHWM when it can be reset,
// else samples VmRSS every 50 ms.
func watchRSS(pid int, notes *[]string) func() int64 {
	if pid == 0 {
		*notes = append(*notes, "server pid unknown: no RSS figure")
		return func() int64 { return 0 }
	}
	if err := resetPeakRSS(pid); err == nil {
		return func() int64 { n, _ := procStatus(pid, "VmHWM"); return n }
	}
	*notes = append(*notes, "VmHWM cannot be reset here: peak RSS sampled every 50 ms")
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			if n, err := procStatus(pid, "VmRSS"); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() int64 { close(stop); return peak.Load() }
}

// countDelta returns the Graph request counts added between two snapshots
// of the emulator's counts, and the token endpoint calls among them.
func countDelta(before, after map[string]int) (map[string]int, int) {
	graph := map[string]int{}
	tokens := 0
	for k, n := range after {
		d := n - before[k]
		if d <= 0 {
			continue
		}
		switch {
		case strings.Contains(k, " /v1.0/"):
			graph[k] = d
		case strings.Contains(k, "/oauth2/v2.0/token"):
			tokens += d
		}
	}
	return graph, tokens
}

// graphPerSend divides the Graph requests of sends by the successful sends.
// Every search costs one GET /users and every direct operation one POST,
// which are taken out first.
func graphPerSend(r *Report) float64 {
	sends := r.Kinds[opSendKnown].OK + r.Kinds[opSendNew].OK
	if sends == 0 {
		return 0
	}
	total := 0
	for _, n := range r.GraphRequests {
		total += n
	}
	for _, k := range []string{opSearch, opDirect} {
		total -= r.Kinds[k].OK
		for _, n := range r.Kinds[k].Errors {
			total -= n
		}
	}
	return float64(total) / float64(sends)
}
