package main

import "net/http"

// mountFrontend adds the HTML pages: GraphiQL at /playground when enabled.
func (a *app) mountFrontend(mux *http.ServeMux) {
	if a.cfg.Playground {
		mux.Handle("GET /playground", playgroundHandler(a.devToken))
	}
}
