package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// KindStats are the figures of one operation kind in the measured window.
type KindStats struct {
	OK        int            `json:"ok"`
	Errors    map[string]int `json:"errors,omitempty"`
	PerSecond float64        `json:"perSecond"`
	P50Ms     float64        `json:"p50Ms"`
	P95Ms     float64        `json:"p95Ms"`
	P99Ms     float64        `json:"p99Ms"`
	MaxMs     float64        `json:"maxMs"`
}

// Report is the outcome of a load run.
type Report struct {
	Scenario      string               `json:"scenario"`
	DB            string               `json:"db"`
	Mix           string               `json:"mix"`
	Rate          float64              `json:"rate"` // 0: maximum
	Concurrency   int                  `json:"concurrency"`
	Recruiters    int                  `json:"recruiters"`
	FillerRows    int                  `json:"fillerRows"`
	LatencyMs     int                  `json:"latencyMs"`
	ByEmail       bool                 `json:"byEmail"`
	Idempotency   bool                 `json:"idempotency"`
	Window        time.Duration        `json:"window"`
	Total         int                  `json:"total"`
	TotalErrors   int                  `json:"totalErrors"`
	PerSecond     float64              `json:"perSecond"`
	Kinds         map[string]KindStats `json:"kinds"`
	ErrorSamples  map[string]string    `json:"errorSamples,omitempty"`
	GraphRequests map[string]int       `json:"graphRequests"` // emulator counts in the window, by "METHOD /template STATUS"
	TokenCalls    int                  `json:"tokenCalls"`
	// GraphPerSend is Graph requests per successful send, counted over
	// every Graph request except the searches (one each) and the direct posts.
	GraphPerSend   float64 `json:"graphPerSend"`
	ServerPeakRSS  int64   `json:"serverPeakRssBytes"`
	ServerCPUCores float64 `json:"serverCpuCores"`
	EmuCPUCores    float64 `json:"emulatorCpuCores"`
	HarnessCores   float64 `json:"harnessCpuCores"`
	// PostgresCores counts the backends connected to the run's database;
	// zero on SQLite, whose work is inside the server process.
	PostgresCores float64 `json:"postgresCpuCores"`
	// ServiceCPUPerOpMs is the CPU time of the server and its PostgreSQL
	// backends per successful operation, in milliseconds.
	ServiceCPUPerOpMs float64  `json:"serviceCpuPerOpMs"`
	Notes             []string `json:"notes,omitempty"`
}

// summarize turns a recorder into per-kind figures.
func summarize(rec *recorder, window time.Duration) (map[string]KindStats, int, int) {
	out := map[string]KindStats{}
	total, errs := 0, 0
	kinds := map[string]bool{}
	for k := range rec.latencies {
		kinds[k] = true
	}
	for k := range rec.errors {
		kinds[k] = true
	}
	for k := range kinds {
		lat := slices.Clone(rec.latencies[k])
		slices.Sort(lat)
		ks := KindStats{OK: len(lat), Errors: rec.errors[k], PerSecond: float64(len(lat)) / window.Seconds()}
		if len(lat) > 0 {
			ks.P50Ms, ks.P95Ms, ks.P99Ms = ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(percentile(lat, 99))
			ks.MaxMs = ms(lat[len(lat)-1])
		}
		for _, n := range rec.errors[k] {
			errs += n
		}
		total += len(lat)
		out[k] = ks
	}
	return out, total, errs
}

// percentile returns the p-th percentile of sorted, nearest-rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// print writes the report as text.
func (r *Report) print(w io.Writer) {
	rate := "maximum"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%.0f/s", r.Rate)
	}
	fmt.Fprintf(w, "scenario %s on %s: mix %s, rate %s, concurrency %d, %d recruiters, %d filler rows, Graph latency %d ms, by email %v, idempotency keys %v\n",
		r.Scenario, r.DB, r.Mix, rate, r.Concurrency, r.Recruiters, r.FillerRows, r.LatencyMs, r.ByEmail, r.Idempotency)
	fmt.Fprintf(w, "window %.1fs: %d ok (%.0f/s), %d errors\n", r.Window.Seconds(), r.Total, r.PerSecond, r.TotalErrors)
	fmt.Fprintf(w, "%-12s %8s %9s %8s %8s %8s %8s  %s\n", "operation", "ok", "ok/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
	for _, k := range sortedKeys(r.Kinds) {
		s := r.Kinds[k]
		fmt.Fprintf(w, "%-12s %8d %9.1f %8.2f %8.2f %8.2f %8.2f  %s\n", k, s.OK, s.PerSecond, s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs, formatCounts(s.Errors))
	}
	// At a fixed rate with added latency, a send's latency minus that latency
	// is what the service adds. At maximum rate it is mostly queueing.
	if s, ok := r.Kinds[opSendKnown]; ok && s.OK > 0 && r.LatencyMs > 0 && r.Rate > 0 {
		fmt.Fprintf(w, "server overhead on send_known (latency minus %d ms added): p50 %.2f ms, p99 %.2f ms\n",
			r.LatencyMs, s.P50Ms-float64(r.LatencyMs), s.P99Ms-float64(r.LatencyMs))
	}
	fmt.Fprintf(w, "Graph requests per send: %.3f; token endpoint calls: %d\n", r.GraphPerSend, r.TokenCalls)
	fmt.Fprintf(w, "Graph requests: %s\n", formatCounts(r.GraphRequests))
	pgCores := fmt.Sprintf("%.2f", r.PostgresCores)
	if r.DB != "postgres" {
		pgCores = "–"
	}
	fmt.Fprintf(w, "server peak RSS %.1f MB; CPU cores used: server %.2f, PostgreSQL %s, emulator %.2f, harness %.2f; service CPU per operation %.3f ms\n",
		float64(r.ServerPeakRSS)/(1<<20), r.ServerCPUCores, pgCores, r.EmuCPUCores, r.HarnessCores, r.ServiceCPUPerOpMs)
	for code, text := range r.ErrorSamples {
		fmt.Fprintf(w, "error %s, first seen: %.300s\n", code, text)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
