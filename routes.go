package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/wintro/teams-messaging/graph"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/resolvers"
)

// Limits of the GraphQL endpoint.
const (
	maxBodyBytes     = 64 << 10 // a message is at most about 28 KB
	maxComplexity    = 200
	maxQueryCacheLen = 1000
)

// routes returns the service's HTTP handler.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", a.cors(noStore(limitBody(rejectMutationOverGET(withCookies(identity.Middleware(a.verifier)(a.graphqlHandler())))))))
	mux.Handle("GET /oauth/callback", a.oauth.CallbackHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	metrics := a.metrics.handler()
	if a.cfg.MetricsToken != "" {
		metrics = requireBearer(a.cfg.MetricsToken, "metrics", metrics)
	}
	mux.Handle("GET /metrics", metrics)
	if a.cfg.InternalToken != "" {
		mux.Handle("DELETE /internal/recruiters/{id}", requireBearer(a.cfg.InternalToken, "internal", http.HandlerFunc(a.deleteRecruiter)))
	}
	a.mountFrontend(mux)
	if a.emulator != nil {
		mux.Handle("/_ms/", http.StripPrefix("/_ms", a.emulator))
	}
	return a.logRequests(withRequestID(recoverPanics(a.log, mux)))
}

// graphqlHandler builds gqlgen's server with only the transports the SPA
// needs: POST, GET for queries, OPTIONS for CORS preflight.
func (a *app) graphqlHandler() http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{
		Resolvers: &resolvers.Resolver{OAuth: a.oauth, Teams: a.teams, OnSend: a.metrics.observeSend},
	}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](maxQueryCacheLen))
	if a.cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.Use(queryShapeLimit{maxDepth: maxQueryDepth, maxFields: maxQueryFields, noIntrospection: !a.cfg.Introspection})
	srv.SetParserTokenLimit(maxQueryTokens)
	srv.SetDisableSuggestion(a.cfg.Production)
	srv.SetErrorPresenter(resolvers.ErrorPresenter(a.log, requestIDFrom))
	// A resolver panic becomes an ordinary unknown error: the presenter logs
	// it with the request id and returns INTERNAL_SERVER_ERROR.
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		return fmt.Errorf("panic in resolver: %v", p)
	})
	srv.AroundOperations(a.metrics.observeOperation)
	return srv
}

// rejectMutationOverGET returns 405 with Allow: POST for a GET request whose
// operation is not a query, where gqlgen's GET transport would return 406.
func rejectMutationOverGET(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			q := r.URL.Query()
			if doc, err := parser.ParseQuery(&ast.Source{Input: q.Get("query")}); err == nil {
				if op := doc.Operations.ForName(q.Get("operationName")); op != nil && op.Operation != ast.Query {
					w.Header().Set("Allow", http.MethodPost)
					writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"errors": []map[string]string{{"message": "only queries may be sent with GET; send mutations with POST"}}})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows the SPA's origin, and only it, to call the API with credentials.
func (a *app) cors(next http.Handler) http.Handler {
	allowed := a.cfg.AppURL
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && origin == allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// limitBody returns 413 for a body over maxBodyBytes, whether or not the
// client announced its length.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []map[string]any{{
				"message": fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes), "extensions": map[string]string{"code": "PAYLOAD_TOO_LARGE"},
			}}})
		}
		if r.ContentLength > maxBodyBytes {
			tooLarge()
			return
		}
		if r.Body != nil && r.ContentLength < 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]string{{"message": "The request body could not be read."}}})
				return
			}
			if len(body) > maxBodyBytes {
				tooLarge()
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// requireBearer lets a request through to next only when it carries token
// as its bearer credential, compared in constant time.
func requireBearer(token, realm string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong " + realm + " bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// deleteRecruiter is the account deletion hook: it removes every token and
// record of the recruiter. It is idempotent.
func (a *app) deleteRecruiter(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.PathValue("id"))
	if id == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "recruiter id is empty"})
		return
	}
	n, err := a.oauth.DeleteRecruiter(r.Context(), id)
	if err != nil {
		a.log.ErrorContext(r.Context(), "account deletion failed", "recruiter_id", id, "error", err, "request_id", requestIDFrom(r.Context()))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "deletion failed; retry"})
		return
	}
	a.log.InfoContext(r.Context(), "recruiter data deleted", "recruiter_id", id, "rows", n)
	w.WriteHeader(http.StatusNoContent)
}

// readyz reports whether the database responds and the schema is current.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.db.PingContext(ctx); err != nil {
		a.log.WarnContext(ctx, "readiness: database unreachable", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "failing": "database"})
		return
	}
	if n, err := a.db.Pending(ctx); err != nil || n > 0 {
		a.log.WarnContext(ctx, "readiness: migrations not applied", "pending", n, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "failing": "migrations"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// withCookies lets resolvers set response cookies (connectTeams binds the
// OAuth flow to the calling browser with one).
func withCookies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := resolvers.WithCookieSetter(r.Context(), func(c *http.Cookie) { http.SetCookie(w, c) })
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
