package oauth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Descriptions as Microsoft writes them: the AADSTS number, its text, then
// trace and correlation lines.
const (
	desc90094 = "AADSTS90094: The grant requires admin permission.\r\nTrace ID: 1f0c\r\nCorrelation ID: 2a1b\r\nTimestamp: 2025-06-01 12:00:00Z"
	desc90095 = "AADSTS90095: Admin consent is required for the permissions requested by this application. An admin consent request was sent to the admin.\r\nTrace ID: 1f0c"
	desc65001 = "AADSTS65001: The user or administrator has not consented to use the application.\r\nTrace ID: 1f0c"
	desc65004 = "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: 1f0c"
	desc50105 = "AADSTS50105: Your administrator has configured the application to block users unless they are specifically granted access.\r\nTrace ID: 1f0c"
)

func TestClassifyAuthorizeError(t *testing.T) {
	tests := []struct {
		name                     string
		code, subcode, desc      string
		wantReason               string
		wantPending, wantMessage bool
	}{
		{"bare cancel", "access_denied", "cancel", "", ReasonCancelled, false, true},
		{"cancel unknown text", "access_denied", "cancel", "The user cancelled.", ReasonCancelled, false, true},
		{"cancel 65004", "access_denied", "cancel", desc65004, ReasonConsentDeclined, false, true},
		{"declined 65004", "access_denied", "", desc65004, ReasonConsentDeclined, false, true},
		{"consent_required 65004", "consent_required", "", desc65004, ReasonAdminApprovalRequired, true, true},
		{"approval wall 90094", "access_denied", "", desc90094, ReasonAdminApprovalRequired, true, true},
		{"left wall 90094", "access_denied", "cancel", desc90094, ReasonAdminApprovalRequired, true, true},
		{"requested 90095", "access_denied", "cancel", desc90095, ReasonAdminApprovalRequired, true, true},
		{"no consent 65001", "invalid_grant", "", desc65001, ReasonAdminApprovalRequired, true, true},
		{"consent_required", "consent_required", "", "", ReasonAdminApprovalRequired, true, true},
		{"access_denied other", "access_denied", "", desc50105, ReasonConsentDeclined, false, true},
		{"access_denied bare", "access_denied", "", "", ReasonConsentDeclined, false, true},
		{"interaction_required", "interaction_required", "", "AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.", ReasonSignInInterrupted, false, true},
		{"login_required", "login_required", "", "AADSTS50058: A silent sign-in request was sent but no user is signed in.", ReasonSignInInterrupted, false, true},
		{"temporarily_unavailable", "temporarily_unavailable", "", "", ReasonMicrosoftUnavailable, false, true},
		{"server_error", "server_error", "", "AADSTS90033: A transient error has occurred.", ReasonMicrosoftUnavailable, false, true},
		{"invalid_request", "invalid_request", "", "AADSTS900144: The request body must contain the following parameter: 'scope'.", ReasonRequestRejected, false, true},
		{"unauthorized_client", "unauthorized_client", "", "AADSTS700016: Application not found.", ReasonRequestRejected, false, true},
		{"unsupported_response_type", "unsupported_response_type", "", "", ReasonRequestRejected, false, true},
		{"invalid_resource", "invalid_resource", "", "", ReasonRequestRejected, false, true},
		{"invalid_scope", "invalid_scope", "", "AADSTS70011: The provided value for scope is not valid.", ReasonRequestRejected, false, true},
		{"unknown error", "something_new", "", "", ReasonRequestRejected, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyAuthorizeError(tt.code, tt.subcode, tt.desc)
			if got.reason != tt.wantReason {
				t.Errorf("classifyAuthorizeError(%q, %q, %.20q).reason = %q, want %q", tt.code, tt.subcode, tt.desc, got.reason, tt.wantReason)
			}
			if got.pending != tt.wantPending {
				t.Errorf("classifyAuthorizeError(%q, %q, %.20q).pending = %v, want %v", tt.code, tt.subcode, tt.desc, got.pending, tt.wantPending)
			}
			if got.message == "" {
				t.Errorf("classifyAuthorizeError(%q, %q, %.20q).message is empty", tt.code, tt.subcode, tt.desc)
			}
			if got.cause == nil {
				t.Errorf("classifyAuthorizeError(%q, %q, %.20q).cause is nil, want the error for the log", tt.code, tt.subcode, tt.desc)
			}
		})
	}
}

// TestAuthorizeMessagesPointToIT checks that the message of each outcome
// that may need an administrator mentions the admin consent link.
func TestAuthorizeMessagesPointToIT(t *testing.T) {
	for _, msg := range []string{msgCancelled, msgDenied, msgAdminApproval} {
		if !strings.Contains(msg, "admin consent link") {
			t.Errorf("message %q does not mention the admin consent link", msg)
		}
	}
}

func TestAADSTSCode(t *testing.T) {
	tests := []struct {
		desc string
		want int
	}{
		{desc90095, 90095},
		{"AADSTS65004: declined", 65004},
		{"", 0},
		{"no number here", 0},
		{"Trace: AADSTS65004: not at the start", 0},
	}
	for _, tt := range tests {
		if got := aadstsCode(tt.desc); got != tt.want {
			t.Errorf("aadstsCode(%.30q) = %d, want %d", tt.desc, got, tt.want)
		}
	}
}

func TestExchangeError(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantReason  string
		wantPending bool
	}{
		{"consent_required suberror", &TokenError{Status: 400, Code: "invalid_grant", SubError: "consent_required", ErrorCodes: []int{65001}}, ReasonAdminApprovalRequired, true},
		{"consent_required code", &TokenError{Status: 400, Code: "consent_required"}, ReasonAdminApprovalRequired, true},
		{"65001 only", &TokenError{Status: 400, Code: "invalid_grant", Description: desc65001}, ReasonAdminApprovalRequired, true},
		{"mfa basic_action", &TokenError{Status: 400, Code: "invalid_grant", SubError: "basic_action", ErrorCodes: []int{50076}}, ReasonSignInInterrupted, false},
		{"mfa 50079", &TokenError{Status: 400, Code: "invalid_grant", ErrorCodes: []int{50079}}, ReasonSignInInterrupted, false},
		{"interaction_required", &TokenError{Status: 400, Code: "interaction_required"}, ReasonSignInInterrupted, false},
		{"invalid_client", &TokenError{Status: 401, Code: "invalid_client", ErrorCodes: []int{7000215}}, ReasonRequestRejected, false},
		{"unauthorized_client", &TokenError{Status: 400, Code: "unauthorized_client"}, ReasonRequestRejected, false},
		{"temporarily_unavailable", &TokenError{Status: 400, Code: "temporarily_unavailable"}, ReasonMicrosoftUnavailable, false},
		{"http 503", &TokenError{Status: 503}, ReasonMicrosoftUnavailable, false},
		{"http 429", &TokenError{Status: 429}, ReasonMicrosoftUnavailable, false},
		{"network", context.DeadlineExceeded, ReasonMicrosoftUnavailable, false},
		{"code redeemed", &TokenError{Status: 400, Code: "invalid_grant", ErrorCodes: []int{54005}}, ReasonExchangeFailed, false},
		{"verifier mismatch", &TokenError{Status: 400, Code: "invalid_grant", ErrorCodes: []int{501481}}, ReasonExchangeFailed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchangeError(tt.err)
			if got.reason != tt.wantReason || got.pending != tt.wantPending {
				t.Errorf("exchangeError(%v) = %q pending %v, want %q pending %v", tt.err, got.reason, got.pending, tt.wantReason, tt.wantPending)
			}
			if !errors.Is(got, tt.err) && !errors.Is(got.cause, tt.err) {
				t.Errorf("exchangeError(%v).cause = %v, want the original error", tt.err, got.cause)
			}
		})
	}
}
