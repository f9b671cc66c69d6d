package msemulator

import (
	"encoding/json"
	"time"
)

// Tenant is a Microsoft Entra tenant (directory).
type Tenant struct {
	ID          string `json:"id"`
	Domain      string `json:"domain"`
	DisplayName string `json:"displayName,omitempty"`
	// UserConsent is the tenant's user consent policy: UserConsentAllowed,
	// UserConsentAdminApproval or UserConsentBlocked. Empty means allowed.
	UserConsent string `json:"userConsent"`
}

// User consent policies of a tenant.
const (
	UserConsentAllowed       = "allowed"
	UserConsentAdminApproval = "admin_approval"
	UserConsentBlocked       = "blocked"
)

// User is a user of a tenant, with the Graph user properties the emulator
// returns.
type User struct {
	ID                string   `json:"id"`
	TenantID          string   `json:"tenantId"`
	UserPrincipalName string   `json:"userPrincipalName"`
	Mail              string   `json:"mail"`
	DisplayName       string   `json:"displayName"`
	GivenName         string   `json:"givenName"`
	Surname           string   `json:"surname"`
	JobTitle          string   `json:"jobTitle,omitempty"`
	OtherMails        []string `json:"otherMails,omitempty"`
	ProxyAddresses    []string `json:"proxyAddresses,omitempty"`
	// Guest marks a guest (external) user, who cannot list or query /users.
	Guest bool `json:"guest,omitempty"`
	// Admin marks a user who may grant admin consent for the tenant.
	Admin bool `json:"admin,omitempty"`
	// Forbidden makes every chat message sent to this user fail with 403.
	Forbidden bool `json:"forbidden,omitempty"`
}

// Message is a chat message posted through Graph.
type Message struct {
	ID              string          `json:"id"`
	ChatID          string          `json:"chatId"`
	SenderID        string          `json:"senderId"`
	MemberIDs       []string        `json:"memberIds"`
	ContentType     string          `json:"contentType"`
	Content         string          `json:"content"`
	Mentions        json.RawMessage `json:"mentions,omitempty"`
	CreatedDateTime time.Time       `json:"createdDateTime"`
}

// ConsentRequest is an admin approval request made by a user from the
// "Approval required" page.
type ConsentRequest struct {
	ID            string    `json:"id"`
	TenantID      string    `json:"tenantId"`
	UserID        string    `json:"userId"`
	ClientID      string    `json:"clientId"`
	Scopes        []string  `json:"scopes"`
	Justification string    `json:"justification"`
	CreatedAt     time.Time `json:"createdDateTime"`
}

// IssuedToken is an access or refresh token issued by the token endpoint.
type IssuedToken struct {
	Kind     string    `json:"kind"` // "access" or "refresh"
	Token    string    `json:"token"`
	UserID   string    `json:"userId"`
	IssuedAt time.Time `json:"issuedAt"`
}

type authCode struct {
	clientID, redirectURI string
	challenge, nonce      string
	userID                string
	scopes                []string // granted, canonical
	expiresAt             time.Time
	redeemed, revoked     bool
}

type accessToken struct {
	userID, tenantID string
	scopes           []string // granted Graph scopes, canonical short names
	expiresAt        time.Time
	expired          bool // set by the expire-access-tokens admin call
	challenged       bool // set by the claims-challenge admin call
}

type refreshToken struct {
	clientID, userID string
	scopes           []string // every granted scope, canonical
	issuedAt         time.Time
	revoked          bool
}

type chat struct {
	ID        string
	TenantID  string
	MemberIDs [2]string
	CreatedAt time.Time
}

// state is everything Reset discards. Emulator.mu guards it.
type state struct {
	tenants   []*Tenant
	users     []*User
	approvals map[string][]string // tenant id → Graph scopes approved by an admin for the app

	codes         map[string]*authCode
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	issued        []IssuedToken

	chats           map[string]*chat
	messages        []Message
	lastMessageID   int64
	consentRequests []ConsentRequest

	faults   []*Fault
	settings Settings
	counts   map[string]int
}

func newState() *state {
	return &state{
		approvals:     map[string][]string{},
		codes:         map[string]*authCode{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
		chats:         map[string]*chat{},
		counts:        map[string]int{},
		settings:      defaultSettings(),
	}
}
