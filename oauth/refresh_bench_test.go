package oauth

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/msemulator"
)

// burstSize is the number of concurrent Access calls in one burst.
const burstSize = 1000

// BenchmarkRefreshBurst sends bursts of 1,000 concurrent Access calls for
// one connection, split over two replicas sharing one database. Each
// iteration runs one burst on a fresh access token and one on an expired
// one. It reports token endpoint calls per expired burst and the latency
// percentiles of both kinds of burst.
func BenchmarkRefreshBurst(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var d *db.DB
			if dialect == "sqlite" {
				d = dbtest.SQLite(b)
			} else {
				d = dbtest.Postgres(b)
			}
			benchmarkBurst(b, d)
		})
	}
}

func benchmarkBurst(b *testing.B, d *db.DB) {
	rig := newLifecycleRig(b, d)
	replicas := []*Service{rig.replica(), rig.replica()}
	conn := rig.connect(replicas[0], "bench", msemulator.DemoRecruiterUPN).ID

	var fresh, expired []time.Duration
	calls := 0
	b.ResetTimer()
	for range b.N {
		fresh = append(fresh, burst(b, replicas)...)

		b.StopTimer()
		if _, err := d.ExecContext(context.Background(), d.Rebind(`UPDATE connections SET access_expires_at = ? WHERE id = ?`),
			rig.clock.Now().Add(-time.Minute).UTC(), conn); err != nil {
			b.Fatalf("expire access token: %v", err)
		}
		before := rig.tokenCalls()
		b.StartTimer()

		expired = append(expired, burst(b, replicas)...)
		calls += rig.settledTokenCalls(before+1) - before
	}
	b.StopTimer()

	b.ReportMetric(float64(calls)/float64(b.N), "token-calls/burst")
	b.ReportMetric(percentile(fresh, 50), "fresh-p50-ms")
	b.ReportMetric(percentile(fresh, 99), "fresh-p99-ms")
	b.ReportMetric(percentile(expired, 50), "expired-p50-ms")
	b.ReportMetric(percentile(expired, 99), "expired-p99-ms")
}

// burst runs burstSize concurrent Access calls and returns their latencies.
func burst(b *testing.B, replicas []*Service) []time.Duration {
	lat := make([]time.Duration, burstSize)
	var wg sync.WaitGroup
	for i := range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if _, err := replicas[i%len(replicas)].Access(context.Background(), "bench"); err != nil {
				b.Errorf("Access = %v", err)
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	return lat
}

// percentile returns the p-th percentile of lat in milliseconds.
func percentile(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	return float64(sorted[(len(sorted)-1)*p/100]) / float64(time.Millisecond)
}
