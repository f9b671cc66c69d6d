package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/msemulator"
)

// TestMetricsAfterFlow runs a scripted flow and reads /metrics: the
// expected series carry the expected counts, and no label value is personal
// or secret.
func TestMetricsAfterFlow(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("recruiter-metrics", msemulator.DemoRecruiterUPN)
	s.connect(tok, msemulator.DemoRecruiterUPN)

	send := `mutation($to: String!, $k: String) { sendTeamsMessage(input: {recipientEmail: $to, content: "hi", idempotencyKey: $k}) { message { id } deduplicated } }`
	for _, vars := range []map[string]any{
		{"to": msemulator.DemoAdaMail, "k": "m-1"},
		{"to": msemulator.DemoAdaMail, "k": "m-1"}, // deduplicated
		{"to": "nobody@contoso.test", "k": "m-2"},  // RECIPIENT_NOT_FOUND
	} {
		s.graphql(tok, send, vars, nil)
	}
	adminPost(t, s, "users/"+msemulator.DemoRecruiterID+"/expire-access-tokens")
	s.graphql(tok, send, map[string]any{"to": msemulator.DemoAdaMail, "k": "m-3"}, nil) // 401, one refresh, retry

	body := scrape(t, s.server.URL+"/metrics")
	want := map[string]string{
		`wintro_messages_total{code="",outcome="sent"}`:                                                  "2",
		`wintro_messages_total{code="",outcome="deduplicated"}`:                                          "1",
		`wintro_messages_total{code="RECIPIENT_NOT_FOUND",outcome="failed"}`:                             "1",
		`wintro_token_refreshes_total{outcome="ok"}`:                                                     "1",
		`wintro_connections{status="CONNECTED"}`:                                                         "1",
		`wintro_graphql_operation_duration_seconds_count{code="OK",operation="connectTeams"}`:            "1",
		`wintro_graph_request_duration_seconds_count{endpoint="POST /chats/{id}/messages",status="201"}`: "2",
		`wintro_graph_request_duration_seconds_count{endpoint="POST /chats/{id}/messages",status="401"}`: "1",
	}
	for series, value := range want {
		if got := seriesValue(body, series); got != value {
			t.Errorf("%s = %q, want %s", series, got, value)
		}
	}

	labels := regexp.MustCompile(`="([^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(labels) == 0 {
		t.Fatal("no labels scraped; the check would prove nothing")
	}
	for _, l := range labels {
		v := l[1]
		if strings.Contains(v, "@") || strings.Contains(v, "recruiter-metrics") || strings.Contains(v, msemulator.DemoRecruiterID) || len(v) > 64 {
			t.Errorf("label value %q is personal or unbounded", v)
		}
	}
}

func scrape(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// seriesValue returns the value of one series line, or "" when absent.
func seriesValue(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func TestMetricsToken(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db", func(c *Config) { c.MetricsToken = "metrics-test-token" })
	get := func(auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.server.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	for _, auth := range []string{"", "Bearer metrics-test-tokeX", "metrics-test-token", "Bearer internal-test-token"} {
		status, body := get(auth)
		if status != http.StatusUnauthorized {
			t.Errorf("GET /metrics with Authorization %q: %d, want 401", auth, status)
		}
		if strings.Contains(body, "wintro_") {
			t.Errorf("GET /metrics with Authorization %q returned metrics", auth)
		}
	}
	status, body := get("Bearer metrics-test-token")
	if status != http.StatusOK || !strings.Contains(body, "wintro_connections") {
		t.Errorf("GET /metrics with the token: %d, want 200 and the metrics", status)
	}
}
