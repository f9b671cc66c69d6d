package msemulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
)

// maxBatchRequests is Graph's limit of requests in one JSON batch.
const maxBatchRequests = 20

type batchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// serveBatch serves POST /$batch: each request runs in order through the
// emulator with the batch's Authorization header. dependsOn is accepted
// and, since requests already run in order, needs no further handling.
func (e *Emulator) serveBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(&body); err != nil {
		e.writeGraphError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload: "+err.Error())
		return
	}
	if n := len(body.Requests); n == 0 || n > maxBatchRequests {
		e.writeGraphError(w, http.StatusBadRequest, "BadRequest", "A batch must contain between 1 and 20 requests.")
		return
	}
	responses := make([]batchResponse, 0, len(body.Requests))
	for _, br := range body.Requests {
		responses = append(responses, e.runBatchRequest(r, br))
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": responses})
}

func (e *Emulator) runBatchRequest(parent *http.Request, br batchRequest) batchResponse {
	target := "http://batch.invalid/v1.0/" + strings.TrimPrefix(br.URL, "/")
	sub, err := http.NewRequestWithContext(parent.Context(), br.Method, target, bytes.NewReader(br.Body))
	if err != nil || sub.URL.Path == "/v1.0/$batch" {
		return batchError(br.ID, "Invalid request URL '"+br.URL+"' in batch.")
	}
	sub.Header.Set("Authorization", parent.Header.Get("Authorization"))
	for k, v := range br.Headers {
		sub.Header.Set(k, v)
	}

	rec := httptest.NewRecorder()
	rt := e.match(sub.Method, sub.URL.Path)
	setGraphRequestIDs(rec, sub)
	rt.handler(rec, sub)
	e.countRequest(sub, rt.template, rec.Code)

	headers := map[string]string{}
	for k := range rec.Header() {
		headers[k] = rec.Header().Get(k)
	}
	return batchResponse{ID: br.ID, Status: rec.Code, Headers: headers, Body: rec.Body.Bytes()}
}

func batchError(id, message string) batchResponse {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "BadRequest", "message": message}})
	return batchResponse{ID: id, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
}
