package main

import (
	"context"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/wintro/teams-messaging/msgraph"
)

// Metrics. No label carries a recruiter id, an email or a token.
var (
	graphqlOperations = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wintro_graphql_operation_duration_seconds",
		Help:    "GraphQL operations by operation name and outcome code (OK or the error code).",
		Buckets: prometheus.DefBuckets,
	}, []string{"operation", "code"})
	graphRequests = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wintro_graph_request_duration_seconds",
		Help:    "Microsoft Graph requests by endpoint template and HTTP status (0 for a network error).",
		Buckets: prometheus.DefBuckets,
	}, []string{"endpoint", "status"})
	graphRetries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "wintro_graph_retries_total",
		Help: "Microsoft Graph attempts that were retries, by endpoint template; throttled is true after a 429.",
	}, []string{"endpoint", "throttled"})
	vaultDecryptFailures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "wintro_vault_decrypt_failures_total",
		Help: "Stored tokens that failed to decrypt (tampered, or sealed with a key no longer configured).",
	})
)

// observeGraph records one Graph attempt.
func observeGraph(info msgraph.RequestInfo) {
	graphRequests.WithLabelValues(info.Endpoint, strconv.Itoa(info.Status)).Observe(info.Duration.Seconds())
	if info.Attempt > 1 {
		graphRetries.WithLabelValues(info.Endpoint, strconv.FormatBool(info.Throttled)).Inc()
	}
}

// observeOperation records each GraphQL operation's latency and outcome.
func observeOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	start := time.Now()
	op := graphql.GetOperationContext(ctx)
	name := "anonymous"
	if op.Operation != nil && op.Operation.Name != "" && len(op.Operation.Name) <= 64 {
		name = op.Operation.Name
	}
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		code := "OK"
		if resp != nil && len(resp.Errors) > 0 {
			code = "ERROR"
			if c, ok := resp.Errors[0].Extensions["code"].(string); ok {
				code = c
			}
		}
		graphqlOperations.WithLabelValues(name, code).Observe(time.Since(start).Seconds())
		return resp
	}
}
