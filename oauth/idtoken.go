package oauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// Account identifies the Microsoft account that signed in.
type Account struct {
	ID          string // oid: the immutable user id, equal to the Graph user id
	TenantID    string // tid
	Email       string // preferred_username, or email when that is empty
	DisplayName string // name
}

type idTokenClaims struct {
	jwt.RegisteredClaims
	OID               string `json:"oid"`
	TID               string `json:"tid"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	Name              string `json:"name"`
}

// accountFromIDToken reads the account from the ID token of a token response.
// The token came straight from Microsoft's token endpoint over TLS, so its
// signature is not verified: OpenID Connect Core 1.0, section 3.1.3.7, lets
// TLS server validation stand in for it in that case. The audience, issuer
// and the presence of oid and tid are checked. Accounts are keyed on
// oid + tid, never on preferred_username, which the user can change.
func (s *Service) accountFromIDToken(tok *oauth2.Token) (*Account, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("token response has no id_token")
	}
	var claims idTokenClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &claims); err != nil {
		return nil, fmt.Errorf("parse id_token: %w", err)
	}

	if claims.OID == "" || claims.TID == "" {
		return nil, errors.New("id_token lacks oid or tid")
	}
	aud, _ := claims.GetAudience()
	if !slices.Contains(aud, s.cfg.ClientID) {
		return nil, fmt.Errorf("id_token audience %v is not this client", aud)
	}
	wantIssuer := strings.TrimRight(s.cfg.AuthorityURL, "/") + "/" + claims.TID + "/v2.0"
	if claims.Issuer != wantIssuer {
		return nil, fmt.Errorf("id_token issuer %q, want %q", claims.Issuer, wantIssuer)
	}

	email := claims.PreferredUsername
	if email == "" {
		email = claims.Email
	}
	return &Account{ID: claims.OID, TenantID: claims.TID, Email: email, DisplayName: claims.Name}, nil
}
