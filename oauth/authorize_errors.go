package oauth

import (
	"fmt"
	"regexp"
	"strconv"
)

// Messages recorded on the integration for the recruiter to read.
const (
	msgCancelled       = "You cancelled the Microsoft sign-in. Click Connect to try again."
	msgDeclined        = "You declined the permissions Wintro asked for. Wintro needs all of them to send Teams messages; click Connect to review them again."
	msgAdminApproval   = "Your organization requires an administrator to approve Wintro before you can connect. Send your IT administrator the application ID and the admin consent link shown here; once they approve, click Connect again."
	msgInterrupted     = "Microsoft needs you to sign in again (for example for multi-factor authentication). Click Connect to continue."
	msgUnavailable     = "Microsoft's sign-in service is unavailable right now. Try again in a few minutes."
	msgAuthorizeFailed = "Microsoft could not complete the sign-in. Try connecting again; if it keeps failing, ask your IT administrator to check the Wintro app in Microsoft Entra."
)

var aadstsPattern = regexp.MustCompile(`^AADSTS(\d+):`)

// aadstsCode returns the AADSTS number that starts an error_description, or 0.
func aadstsCode(description string) int {
	m := aadstsPattern.FindStringSubmatch(description)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// classifyAuthorizeError maps an error redirect from the authorize endpoint
// to the outcome shown to the recruiter. Microsoft reports a user who left
// the admin-approval page as access_denied with error_subcode=cancel, with or
// without an AADSTS90095 description, so the AADSTS number decides between
// "cancelled" and "approval requested" where one is present.
func classifyAuthorizeError(code, subcode, description string) *callbackError {
	aadsts := aadstsCode(description)
	cause := fmt.Errorf("authorize error %q (subcode %q, AADSTS%d)", code, subcode, aadsts)
	switch {
	case aadsts == 90094 || aadsts == 90095 || aadsts == 65001 || code == "consent_required":
		return &callbackError{reason: ReasonAdminApprovalRequired, message: msgAdminApproval, pending: true, cause: cause}
	case aadsts == 65004:
		return &callbackError{reason: ReasonConsentDeclined, message: msgDeclined, cause: cause}
	case code == "access_denied" && subcode == "cancel":
		return &callbackError{reason: ReasonCancelled, message: msgCancelled, cause: cause}
	case code == "access_denied":
		return &callbackError{reason: ReasonConsentDeclined, message: msgDeclined, cause: cause}
	case code == "interaction_required" || code == "login_required":
		return &callbackError{reason: ReasonSignInInterrupted, message: msgInterrupted, cause: cause}
	case code == "temporarily_unavailable" || code == "server_error":
		return &callbackError{reason: ReasonMicrosoftUnavailable, message: msgUnavailable, cause: cause}
	}
	return &callbackError{reason: ReasonExchangeFailed, message: msgAuthorizeFailed, cause: cause}
}
