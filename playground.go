package main

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
)

// playgroundHandler serves GraphiQL against /graphql. In dev mode the dev
// recruiter's token is pre-filled in the headers editor.
// NOTE: gqlgen's GraphiQL page loads its scripts from a public CDN, so it
// needs internet access in the browser.
func playgroundHandler(devToken string) http.Handler {
	var opts []playground.GraphiqlConfigOption
	if devToken != "" {
		opts = append(opts, playground.WithGraphiqlUiHeaders(map[string]string{"Authorization": "Bearer " + devToken}))
	}
	h := playground.Handler("Wintro Teams API", "/graphql", opts...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
