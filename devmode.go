package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// Dev-mode identities: the recruiter whose token is printed at start, and
// the emulator's seeded Microsoft account it connects as.
const (
	devRecruiterID  = "dev-recruiter"
	devOrgID        = "dev-org"
	devTokenTTL     = 30 * 24 * time.Hour
	devClientSecret = "dev-emulator-client-secret"
	devVaultKeyFile = "dev-vault.key"
	devVaultKeyID   = "dev"
)

// prepareDevMode fills in what is not configured: the emulator as the
// Microsoft endpoints, a vault key and a caller-token secret generated once
// and kept in the data folder. Settings given in the environment win.
func (a *app) prepareDevMode() error {
	cfg := a.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	if cfg.VaultKeys == "" {
		key, err := readOrCreateSecret(filepath.Join(cfg.DataDir, devVaultKeyFile), vault.GenerateKey)
		if err != nil {
			return err
		}
		cfg.VaultKeys = devVaultKeyID + ":" + key
	}
	if cfg.JWTSecret == "" && cfg.JWKSURL == "" {
		secret, err := readOrCreateSecret(filepath.Join(cfg.DataDir, "dev-jwt.secret"), random32)
		if err != nil {
			return err
		}
		cfg.JWTSecret = secret
	}

	emu, err := msemulator.New(msemulator.Config{
		ClientID:     msemulator.DevClientID,
		ClientSecret: devClientSecret,
		RedirectURIs: []string{cfg.PublicURL + "/oauth/callback"},
		Seed:         true,
	})
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	emu.SetBaseURL(cfg.PublicURL + "/_ms")
	a.emulator = emu
	cfg.ClientID, cfg.ClientSecret = msemulator.DevClientID, devClientSecret
	cfg.Authority, cfg.GraphURL = cfg.PublicURL+"/_ms", cfg.PublicURL+"/_ms/v1.0"

	if cfg.JWTSecret != "" {
		a.devToken, err = identity.SignHS256([]byte(cfg.JWTSecret), identity.Recruiter{
			ID: devRecruiterID, OrgID: devOrgID, Email: msemulator.DemoRecruiterUPN, Name: "Rita Recruiter",
			Permissions: []string{identity.PermissionTeamsMessaging},
		}, cfg.Issuer, cfg.Audience, devTokenTTL, time.Now())
		if err != nil {
			return fmt.Errorf("sign dev token: %w", err)
		}
	}
	return nil
}

// announceDevMode logs a warning that this is dev mode and prints the dev token.
func (a *app) announceDevMode() {
	a.log.Warn("DEV MODE: Microsoft is emulated at /_ms/, keys are generated in the data folder; never use this in production",
		"data_dir", a.cfg.DataDir, "playground", a.cfg.PublicURL+"/playground")
	if host, _, err := net.SplitHostPort(a.cfg.ListenAddr); err != nil || !isLoopbackHost(host) {
		a.log.Warn("DEV MODE on a non-loopback address: anyone who can reach "+a.cfg.ListenAddr+" can read the dev token and the emulator's issued tokens",
			"addr", a.cfg.ListenAddr)
	}
	if a.devToken != "" {
		// The dev token is printed on purpose, to standard output and not to
		// the log: it is the developer's key to the playground.
		fmt.Printf("\nDev recruiter token (valid 30 days, pre-filled in %s/playground):\n\n%s\n\n", a.cfg.PublicURL, a.devToken)
	}
}

func random32() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// readOrCreateSecret returns the base64 secret stored at path, creating it
// with generate (mode 0600) on first use.
func readOrCreateSecret(path string, generate func() ([]byte, error)) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw, err := generate()
	if err != nil {
		return "", fmt.Errorf("generate %s: %w", filepath.Base(path), err)
	}
	s := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}

// isLoopbackHost reports whether a listen host accepts loopback traffic only.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
