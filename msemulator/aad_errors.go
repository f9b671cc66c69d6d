package msemulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// aadError is an identity platform error: an OAuth error code, the AADSTS
// number and its text, and an optional suberror.
type aadError struct {
	err      string // OAuth "error" value
	code     int    // AADSTS number
	text     string // text after "AADSTSnnnn: "
	suberror string
}

// Identity platform errors the emulator returns. Texts follow the wording of
// Microsoft's AADSTS error reference.
func errInvalidClientSecret(clientID string) aadError {
	return aadError{"invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + clientID + "'.", ""}
}

func errMissingClientSecret() aadError {
	return aadError{"invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", ""}
}

func errUnknownClient(clientID string) aadError {
	return aadError{"unauthorized_client", 700016, "Application with identifier '" + clientID + "' was not found in the directory.", ""}
}

func errUnsupportedGrant(grant string) aadError {
	return aadError{"unsupported_grant_type", 70003, "The app requested an unsupported grant type '" + grant + "'.", ""}
}

func errRedirectMismatch() aadError {
	return aadError{"invalid_grant", 500112, "The reply address does not match the reply address provided when requesting the authorization code.", ""}
}

func errCodeRedeemed() aadError {
	return aadError{"invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.", ""}
}

func errVerifierMismatch() aadError {
	return aadError{"invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.", ""}
}

func errEmptyScope() aadError {
	return aadError{"invalid_scope", 28003, "Provided value for the input parameter scope cannot be empty when requesting an access token using the provided authorization code. Please specify a valid scope.", ""}
}

func errGrantRevoked() aadError {
	return aadError{"invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.", ""}
}

func errRefreshInactive(issued time.Time) aadError {
	return aadError{"invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on " + issued.Format(time.RFC3339Nano) + " and was inactive for 90.00:00:00.", "bad_token"}
}

func errBadGrant(param string) aadError {
	return aadError{"invalid_grant", 70000, "The provided value for the '" + param + "' parameter is not valid.", ""}
}

func errCodeExpired() aadError {
	return aadError{"invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.", ""}
}

func errMissingParam(name string) aadError {
	return aadError{"invalid_request", 900144, "The request body must contain the following parameter: '" + name + "'.", ""}
}

func errConsentRequired(scope string) aadError {
	return aadError{"invalid_grant", 65001, "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource. Scope: " + scope + ".", "consent_required"}
}

func errDeclined() aadError {
	return aadError{"access_denied", 65004, "User declined to consent to access the app.", ""}
}

func errTenantNotFound(tenant string) aadError {
	return aadError{"invalid_request", 90002, "Tenant '" + tenant + "' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", ""}
}

func aadFault(status int) aadError {
	if status == http.StatusTooManyRequests {
		return aadError{"temporarily_unavailable", 90055, "TenantThrottlingError: There are too many incoming requests. This exception is thrown for blocked tenants.", ""}
	}
	if status >= 500 {
		return aadError{"temporarily_unavailable", 90033, "A transient error has occurred. Please try again.", ""}
	}
	return aadError{"invalid_request", 90033, "Injected fault.", ""}
}

// tokenErrorBody is the JSON error body of the token endpoint.
type tokenErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
	Suberror         string `json:"suberror,omitempty"`
}

// describe returns Microsoft's error_description for err: the AADSTS text
// followed by trace id, correlation id and timestamp lines.
func describe(err aadError, now time.Time, traceID, correlationID string) string {
	return fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
		err.code, err.text, traceID, correlationID, now.Format(aadTimestamp))
}

const aadTimestamp = "2006-01-02 15:04:05Z"

func (e *Emulator) writeTokenError(w http.ResponseWriter, status int, err aadError) {
	now := e.clock()
	body := tokenErrorBody{
		Error:         err.err,
		ErrorCodes:    []int{err.code},
		Timestamp:     now.Format(aadTimestamp),
		TraceID:       newGUID(),
		CorrelationID: newGUID(),
		ErrorURI:      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", err.code),
		Suberror:      err.suberror,
	}
	body.ErrorDescription = describe(err, now, body.TraceID, body.CorrelationID)
	writeJSON(w, status, body)
}

// clock returns the emulator clock, taking the lock.
func (e *Emulator) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
