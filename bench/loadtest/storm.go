package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/wintro/teams-messaging/db"
)

// StormPhase is one burst of concurrent sends by one recruiter.
type StormPhase struct {
	Name          string         `json:"name"`
	Sends         int            `json:"sends"`
	OK            int            `json:"ok"`
	Errors        map[string]int `json:"errors,omitempty"`
	TokenCalls    int            `json:"tokenCalls"`
	GraphRequests map[string]int `json:"graphRequests"`
	P50Ms         float64        `json:"p50Ms"`
	P99Ms         float64        `json:"p99Ms"`
	MaxMs         float64        `json:"maxMs"`
}

// StormReport is the outcome of the refresh-storm scenario.
type StormReport struct {
	DB     string       `json:"db"`
	Phases []StormPhase `json:"phases"`
}

// runStorm connects one recruiter and sends cfg.StormSends messages at
// once, twice. First the stored access token has expired, so the service
// must refresh before it calls Graph. Then the emulator rejects the token
// with 401, so the service must refresh after the call. Each burst should
// cost one token endpoint call.
func runStorm(ctx context.Context, cfg *Config, logf func(string, ...any)) (*StormReport, error) {
	if cfg.Target != "" {
		return nil, fmt.Errorf("the refresh-storm scenario needs a service the harness starts")
	}
	single := *cfg
	single.Recruiters, single.Known = 1, 1
	s, err := startStack(ctx, &single, logf)
	if err != nil {
		return nil, err
	}
	defer s.close()
	c := newClient(s.serverURL, s.emuURL, s.jwtSecret, cfg.StormSends)
	pop, err := setup(ctx, c, &single, randomText(6))
	if err != nil {
		return nil, err
	}
	r := pop.recruiters[0]
	ru := &runner{cfg: &single, c: c, pop: pop}
	out := &StormReport{DB: cfg.DB}

	if err := expireStoredToken(ctx, s.dbURL, r.id); err != nil {
		return nil, err
	}
	expired, err := burst(ctx, ru, "stored access token expired", cfg.StormSends)
	if err != nil {
		return nil, err
	}
	out.Phases = append(out.Phases, expired)

	if err := c.emulatorJSON(ctx, http.MethodPost, "/_admin/users/"+r.accountID+"/expire-access-tokens", "", nil, nil); err != nil {
		return nil, fmt.Errorf("expire access tokens in the emulator: %w", err)
	}
	rejected, err := burst(ctx, ru, "Graph answers 401 InvalidAuthenticationToken", cfg.StormSends)
	if err != nil {
		return nil, err
	}
	out.Phases = append(out.Phases, rejected)
	return out, nil
}

// expireStoredToken moves the stored access token's expiry into the past.
func expireStoredToken(ctx context.Context, dbURL, recruiterID string) error {
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	_, err = d.ExecContext(ctx, d.Rebind(`UPDATE connections SET access_expires_at = ? WHERE recruiter_id = ?`),
		time.Now().Add(-time.Minute).UTC(), recruiterID)
	if err != nil {
		return fmt.Errorf("expire stored access token: %w", err)
	}
	return nil
}

// burst starts n known sends at the same moment and waits for all of them.
func burst(ctx context.Context, ru *runner, name string, n int) (StormPhase, error) {
	before, err := ru.c.requestCounts(ctx)
	if err != nil {
		return StormPhase{}, err
	}
	rec := newRecorder()
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			<-gate
			t0 := time.Now()
			err := ru.do(ctx, opSendKnown, rng)
			rec.record(opSendKnown, time.Since(t0), err)
		}()
	}
	close(gate)
	wg.Wait()
	after, err := ru.c.requestCounts(ctx)
	if err != nil {
		return StormPhase{}, err
	}
	kinds, ok, _ := summarize(rec, time.Second)
	ks := kinds[opSendKnown]
	graph, tokens := countDelta(before, after)
	return StormPhase{Name: name, Sends: n, OK: ok, Errors: ks.Errors, TokenCalls: tokens, GraphRequests: graph,
		P50Ms: ks.P50Ms, P99Ms: ks.P99Ms, MaxMs: ks.MaxMs}, nil
}

func (r *StormReport) print(w io.Writer) {
	fmt.Fprintf(w, "refresh storm on %s\n", r.DB)
	for _, p := range r.Phases {
		fmt.Fprintf(w, "%s: %d concurrent sends, %d ok, errors %s, token endpoint calls %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n  Graph requests: %s\n",
			p.Name, p.Sends, p.OK, formatCounts(p.Errors), p.TokenCalls, p.P50Ms, p.P99Ms, p.MaxMs, formatCounts(p.GraphRequests))
	}
}
