package main

import (
	"encoding/json"
	"net/http"
)

// playgroundQuery is the query GraphiQL opens with on a first visit.
const playgroundQuery = `# Wintro Teams API. Headers (below) carries
# the caller token; dev mode fills it in.
query Integration {
  teamsIntegration {
    status
    account { email displayName }
    missingScopes
    applicationId
    adminConsentUrl
  }
}
`

// tokenPlaceholder is the Authorization value pre-filled outside dev mode,
// where the server has no caller token to offer.
const tokenPlaceholder = "Bearer PASTE-A-WINTRO-CALLER-TOKEN"

// playgroundConfig is the playground page's configuration, which
// playground.js reads from the page's wintro-playground meta tag. Headers is
// the text of GraphiQL's headers editor, a JSON object.
type playgroundConfig struct {
	Endpoint     string `json:"endpoint"`
	Headers      string `json:"headers"`
	DefaultQuery string `json:"defaultQuery"`
}

// playgroundPage is the data of the playground page template. StyleNonce
// is the CSP nonce of this response, which playground.js hands to GraphiQL
// for the <style> elements its dialogs insert.
type playgroundPage struct {
	Config     playgroundConfig
	StyleNonce string
}

// playgroundHandler serves GraphiQL against /graphql from the embedded
// assets alone, so it works with no internet access and under pageCSP. In
// dev mode the dev recruiter's token is pre-filled in the headers editor.
// The configuration travels in a meta tag because the CSP forbids inline
// scripts.
func (a *app) playgroundHandler() http.Handler {
	auth := tokenPlaceholder
	if a.devToken != "" {
		auth = "Bearer " + a.devToken
	}
	headers, err := json.MarshalIndent(map[string]string{"Authorization": auth}, "", "  ")
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	config := playgroundConfig{Endpoint: "/graphql", Headers: string(headers), DefaultQuery: playgroundQuery}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		a.writePage(w, r, "playground.html", nonce, playgroundPage{Config: config, StyleNonce: nonce})
	})
}
