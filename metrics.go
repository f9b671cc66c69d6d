package main

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/resolvers"
	"github.com/wintro/teams-messaging/teams"
	"github.com/wintro/teams-messaging/vault"
)

// metrics holds the service's Prometheus metrics in a registry of its own,
// so each app (and each test) counts separately. No label carries a
// recruiter id, an email or a token.
type metrics struct {
	registry             *prometheus.Registry
	graphqlOperations    *prometheus.HistogramVec
	graphRequests        *prometheus.HistogramVec
	graphRetries         *prometheus.CounterVec
	vaultDecryptFailures prometheus.Counter
	tokenRefreshes       *prometheus.CounterVec
	refreshSkips         *prometheus.CounterVec
	refreshLockWait      prometheus.Histogram
	messages             *prometheus.CounterVec
	keepAlive            *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.graphqlOperations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wintro_graphql_operation_duration_seconds",
		Help: "GraphQL operations by root field and outcome code (OK or the error code).",
	}, []string{"operation", "code"})
	m.graphRequests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wintro_graph_request_duration_seconds",
		Help: "Microsoft Graph requests by endpoint template and HTTP status (0 for a network error).",
	}, []string{"endpoint", "status"})
	m.graphRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wintro_graph_retries_total",
		Help: "Microsoft Graph attempts that were retries, by endpoint template; throttled is true for a 429 answer.",
	}, []string{"endpoint", "throttled"})
	m.vaultDecryptFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wintro_vault_decrypt_failures_total",
		Help: "Stored tokens that failed to decrypt (tampered, or sealed with a key no longer configured).",
	})
	m.tokenRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wintro_token_refreshes_total",
		Help: "Token endpoint refreshes by outcome: ok, expired (the grant is dead), transient, misconfigured.",
	}, []string{"outcome"})
	m.refreshSkips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wintro_token_refresh_skips_total",
		Help: "Refreshes that did not call the token endpoint although the token needed one: backed_off (an earlier call failed and its backoff runs, in any replica) or timed_out (the refresh lock stayed taken).",
	}, []string{"reason"})
	m.refreshLockWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wintro_refresh_lock_wait_seconds",
		Help: "Time spent waiting for a connection's refresh lock.",
	})
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wintro_messages_total",
		Help: "sendTeamsMessage outcomes: sent, deduplicated, or failed with its error code.",
	}, []string{"outcome", "code"})
	m.keepAlive = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wintro_keepalive_refreshes_total",
		Help: "Connections the keep-alive sweep refreshed, by outcome.",
	}, []string{"outcome"})
	m.registry.MustRegister(m.graphqlOperations, m.graphRequests, m.graphRetries, m.vaultDecryptFailures,
		m.tokenRefreshes, m.refreshSkips, m.refreshLockWait, m.messages, m.keepAlive,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observeGraph records one Graph attempt.
func (m *metrics) observeGraph(info msgraph.RequestInfo) {
	m.graphRequests.WithLabelValues(info.Endpoint, strconv.Itoa(info.Status)).Observe(info.Duration.Seconds())
	if info.Retried {
		m.graphRetries.WithLabelValues(info.Endpoint, strconv.FormatBool(info.Throttled)).Inc()
	}
}

// observeOperation records each GraphQL operation's latency and outcome,
// labelled by its first root field: client-chosen operation names would
// let any caller create series.
func (m *metrics) observeOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	start := time.Now()
	name := rootFieldName(graphql.GetOperationContext(ctx))
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
		m.graphqlOperations.WithLabelValues(name, code).Observe(time.Since(start).Seconds())
		return resp
	}
}

// observeSend counts a sendTeamsMessage outcome by its GraphQL error code.
func (m *metrics) observeSend(res *teams.SendResult, err error) {
	switch {
	case err != nil:
		m.messages.WithLabelValues("failed", resolvers.CodeOf(err)).Inc()
	case res.Deduplicated:
		m.messages.WithLabelValues("deduplicated", "").Inc()
	default:
		m.messages.WithLabelValues("sent", "").Inc()
	}
}

func rootFieldName(oc *graphql.OperationContext) string {
	if oc == nil || oc.Operation == nil {
		return "unknown"
	}
	for _, sel := range oc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			if f.Definition == nil {
				return "unknown"
			}
			return f.Name
		}
	}
	return "unknown"
}

// connectionsCollector reports connections by status, read from the
// database at scrape time so every replica reports the shared truth.
type connectionsCollector struct {
	store *vault.Store
	desc  *prometheus.Desc
}

func newConnectionsCollector(store *vault.Store) *connectionsCollector {
	return &connectionsCollector{store: store, desc: prometheus.NewDesc(
		"wintro_connections", "Recruiter connections by status (a DISCONNECTED row only remembers a failed attempt).", []string{"status"}, nil)}
}

func (c *connectionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *connectionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.CountByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, st := range []vault.Status{vault.StatusConnected, vault.StatusExpired, vault.StatusPendingAdminApproval, vault.StatusDisconnected} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
