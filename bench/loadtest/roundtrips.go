package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// roundTripCase is one operation measured alone.
type roundTripCase struct {
	name        string
	kind        string
	byEmail     bool
	idempotency bool
}

var roundTripCases = []roundTripCase{
	{"send_known, recipientEmail, idempotency key", opSendKnown, true, true},
	{"send_known, recipientId, idempotency key", opSendKnown, false, true},
	{"send_known, recipientEmail, no key", opSendKnown, true, false},
	{"send_known, recipientId, no key", opSendKnown, false, false},
	{"send_new, recipientEmail, idempotency key", opSendNew, true, true},
	{"teamsIntegration", opIntegration, true, true},
	{"searchColleagues", opSearch, true, true},
}

// RoundTripRow is the cost of one operation, averaged over the case's run.
type RoundTripRow struct {
	Case          string  `json:"case"`
	Operations    int     `json:"operations"`
	Errors        int     `json:"errors"`
	DBRoundTrips  float64 `json:"dbRoundTripsPerOp"`
	GraphRequests float64 `json:"graphRequestsPerOp"`
	P50Ms         float64 `json:"p50Ms"`
}

// RoundTripReport lists the database round trips of each operation.
type RoundTripReport struct {
	PostgresParams string         `json:"postgresParams"`
	Rows           []RoundTripRow `json:"rows"`
}

// runRoundTrips sends each case's operations one at a time through a
// proxy that counts the service's PostgreSQL round trips.
func runRoundTrips(ctx context.Context, cfg *Config, logf func(string, ...any)) (*RoundTripReport, error) {
	if cfg.DB != "postgres" || cfg.Target != "" {
		return nil, fmt.Errorf("the roundtrips scenario needs --db postgres and a service the harness starts")
	}
	s, err := startStack(ctx, cfg, logf)
	if err != nil {
		return nil, err
	}
	defer s.close()
	c := newClient(s.serverURL, s.emuURL, s.jwtSecret, setupWorkers)
	pop, err := setup(ctx, c, cfg, randomText(6))
	if err != nil {
		return nil, err
	}
	n := cfg.Requests
	if n <= 0 {
		n = 200
	}
	out := &RoundTripReport{PostgresParams: cfg.PostgresParams}
	for _, tc := range roundTripCases {
		row, err := measureCase(ctx, s, c, pop, cfg, tc, n)
		if err != nil {
			return nil, err
		}
		logf("%s: %.2f round trips", tc.name, row.DBRoundTrips)
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

func measureCase(ctx context.Context, s *stack, c *client, pop *population, cfg *Config, tc roundTripCase, n int) (RoundTripRow, error) {
	caseCfg := *cfg
	caseCfg.ByEmail, caseCfg.Idempotency = tc.byEmail, tc.idempotency
	ru := &runner{cfg: &caseCfg, c: c, pop: pop}
	rng := rand.New(rand.NewPCG(7, 11))
	rec := newRecorder()

	before, err := c.requestCounts(ctx)
	if err != nil {
		return RoundTripRow{}, err
	}
	trips0 := s.proxy.roundTrips.Load()
	for range n {
		t0 := time.Now()
		err := ru.do(ctx, tc.kind, rng)
		rec.record(tc.kind, time.Since(t0), err)
	}
	trips := s.proxy.roundTrips.Load() - trips0
	after, err := c.requestCounts(ctx)
	if err != nil {
		return RoundTripRow{}, err
	}

	kinds, ok, errs := summarize(rec, time.Second)
	graph, _ := countDelta(before, after)
	total := 0
	for _, v := range graph {
		total += v
	}
	return RoundTripRow{Case: tc.name, Operations: ok, Errors: errs, DBRoundTrips: float64(trips) / float64(n),
		GraphRequests: float64(total) / float64(n), P50Ms: kinds[tc.kind].P50Ms}, nil
}

func (r *RoundTripReport) print(w io.Writer) {
	params := r.PostgresParams
	if params == "" {
		params = "(none)"
	}
	fmt.Fprintf(w, "PostgreSQL round trips per operation, one operation at a time; extra DATABASE_URL parameters: %s\n", params)
	fmt.Fprintf(w, "%-46s %6s %6s %10s %10s %8s\n", "case", "ops", "errors", "db trips", "graph req", "p50 ms")
	for _, row := range r.Rows {
		fmt.Fprintf(w, "%-46s %6d %6d %10.2f %10.2f %8.2f\n", row.Case, row.Operations, row.Errors, row.DBRoundTrips, row.GraphRequests, row.P50Ms)
	}
}
