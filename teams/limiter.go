package teams

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// minSweepSize is the map size below which the per-key maps are never swept.
const minSweepSize = 1024

// limiters holds one token bucket per recruiter. A bucket that has refilled
// to its burst is in the same state as a new one, so sweeps drop those
// buckets without changing any decision. After a sweep the map holds only
// recruiters who sent within the last RateBurst/RateLimit seconds. Sweeps run when the map has doubled since the previous
// one, so their cost is amortized over the insertions. It is safe for
// concurrent use.
type limiters struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	sweepSize int
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}, sweepSize: minSweepSize}
}

// reserve takes one token for recruiterID at now. It returns the wait until
// a token is available and no reservation when the bucket is empty, or zero
// and the reservation, which the caller may cancel to give the token back.
func (l *limiters) reserve(recruiterID string, now time.Time) (time.Duration, *rate.Reservation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The reservation is made under l.mu, so a sweep never drops a bucket
	// between its lookup and its use.
	r := l.bucket(recruiterID, now).ReserveN(now, 1)
	if !r.OK() {
		return time.Second, nil
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, nil
	}
	return 0, r
}

// bucket returns recruiterID's bucket, creating it. The caller holds l.mu.
func (l *limiters) bucket(recruiterID string, now time.Time) *rate.Limiter {
	if b, ok := l.buckets[recruiterID]; ok {
		return b
	}
	if len(l.buckets) >= l.sweepSize {
		for id, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, id)
			}
		}
		l.sweepSize = max(2*len(l.buckets), minSweepSize)
	}
	b := rate.NewLimiter(l.limit, l.burst)
	l.buckets[recruiterID] = b
	return b
}

// size returns the number of buckets held.
func (l *limiters) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// usedMarks throttles the last-use writes per connection: a connection is
// marked at most once per interval by this process. Entries older than the
// interval carry no information and are swept like the limiters' buckets.
// It is safe for concurrent use.
type usedMarks struct {
	interval time.Duration

	mu        sync.Mutex
	marked    map[string]time.Time
	sweepSize int
}

func newUsedMarks(interval time.Duration) *usedMarks {
	return &usedMarks{interval: interval, marked: map[string]time.Time{}, sweepSize: minSweepSize}
}

// due reports whether connectionID should be marked at now, and if so
// records now as its last mark.
func (u *usedMarks) due(connectionID string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, ok := u.marked[connectionID]; ok && now.Sub(last) < u.interval {
		return false
	}
	if len(u.marked) >= u.sweepSize {
		for id, last := range u.marked {
			if now.Sub(last) >= u.interval {
				delete(u.marked, id)
			}
		}
		u.sweepSize = max(2*len(u.marked), minSweepSize)
	}
	u.marked[connectionID] = now
	return true
}
