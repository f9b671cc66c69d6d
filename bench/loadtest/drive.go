package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// recorder collects latencies and errors by operation kind. It is safe
// for concurrent use.
type recorder struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration // successful operations only
	errors    map[string]map[string]int  // kind → code → count
	samples   map[string]string          // code → one error text, for the report
}

func newRecorder() *recorder {
	return &recorder{latencies: map[string][]time.Duration{}, errors: map[string]map[string]int{}, samples: map[string]string{}}
}

func (r *recorder) record(kind string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.latencies[kind] = append(r.latencies[kind], d)
		return
	}
	code := errorCode(err)
	if r.errors[kind] == nil {
		r.errors[kind] = map[string]int{}
	}
	r.errors[kind][code]++
	if _, ok := r.samples[code]; !ok {
		r.samples[code] = err.Error()
	}
}

// picker chooses operation kinds by weight.
type picker struct {
	kinds   []string
	cumul   []int
	total   int
	weights map[string]int
}

func newPicker(mix map[string]int) *picker {
	p := &picker{weights: mix}
	for k := range mix {
		p.kinds = append(p.kinds, k)
	}
	sort.Strings(p.kinds)
	for _, k := range p.kinds {
		p.total += mix[k]
		p.cumul = append(p.cumul, p.total)
	}
	return p
}

func (p *picker) pick(rng *rand.Rand) string {
	n := rng.IntN(p.total)
	i, _ := slices.BinarySearch(p.cumul, n+1)
	return p.kinds[i]
}

// window bounds one drive: it ends at the deadline or after limit operations.
type window struct {
	deadline time.Time
	limit    int64 // 0: no count limit
	issued   atomic.Int64
}

// take claims one operation, or reports false when the window is over.
func (w *window) take(now time.Time) bool {
	if !w.deadline.IsZero() && !now.Before(w.deadline) {
		return false
	}
	return w.limit == 0 || w.issued.Add(1) <= w.limit
}

// drive runs the mix for d (or for limit operations) and returns the
// elapsed time. With rate > 0 operations start on a fixed schedule and
// their latency counts from the scheduled start, so a slow server cannot
// hide its queue (no coordinated omission).
func drive(ctx context.Context, ru *runner, rec *recorder, d time.Duration, limit int) time.Duration {
	w := &window{limit: int64(limit)}
	start := time.Now()
	if d > 0 {
		w.deadline = start.Add(d)
	}
	p := newPicker(ru.cfg.Mix)
	if ru.cfg.Rate > 0 {
		driveAtRate(ctx, ru, rec, p, w, start)
	} else {
		driveAtMax(ctx, ru, rec, p, w)
	}
	return time.Since(start)
}

func driveAtMax(ctx context.Context, ru *runner, rec *recorder, p *picker, w *window) {
	var wg sync.WaitGroup
	for i := range ru.cfg.Concurrency {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !w.take(t0) {
					return
				}
				kind := p.pick(rng)
				err := ru.do(ctx, kind, rng)
				rec.record(kind, time.Since(t0), err)
			}
		}(uint64(i))
	}
	wg.Wait()
}

func driveAtRate(ctx context.Context, ru *runner, rec *recorder, p *picker, w *window, start time.Time) {
	interval := time.Duration(float64(time.Second) / ru.cfg.Rate)
	inFlight := make(chan struct{}, ru.cfg.Concurrency)
	rng := rand.New(rand.NewPCG(1, uint64(start.UnixNano())))
	var wg sync.WaitGroup
	for i := 0; ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		if !w.take(due) {
			break
		}
		kind := p.pick(rng)
		opRng := rand.New(rand.NewPCG(uint64(i), rng.Uint64()))
		inFlight <- struct{}{} // a full pipeline delays the start, and the latency shows it
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			err := ru.do(ctx, kind, opRng)
			rec.record(kind, time.Since(due), err)
		}()
	}
	wg.Wait()
}
