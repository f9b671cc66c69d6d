package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// runEmulator serves the Microsoft emulator alone, for multi-process tests.
func runEmulator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9090", "address to listen on")
	clientID := fs.String("client-id", msemulator.DevClientID, "client id of the registered application")
	secret := fs.String("client-secret", devClientSecret, "client secret of the registered application")
	redirect := fs.String("redirect-uri", "http://localhost:8080/oauth/callback", "registered redirect URI (comma-separated for several)")
	base := fs.String("base-url", "", "externally visible base URL (default http://{addr})")
	seed := fs.Bool("seed", true, "seed the demo tenants")
	latency := fs.Int("latency", 0, "milliseconds added to every Graph request, for load tests")
	if err := fs.Parse(args); err != nil {
		return err
	}

	emu, err := msemulator.New(msemulator.Config{ClientID: *clientID, ClientSecret: *secret, RedirectURIs: strings.Split(*redirect, ","), Seed: *seed})
	if err != nil {
		return err
	}
	if *latency > 0 {
		settings := emu.CurrentSettings()
		settings.GraphLatencyMs = *latency
		emu.SetSettings(settings)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	baseURL := *base
	if baseURL == "" {
		baseURL = "http://" + ln.Addr().String()
	}
	emu.SetBaseURL(baseURL)
	fmt.Printf("Microsoft emulator on %s\n  WINTRO_MS_AUTHORITY=%s\n  WINTRO_MS_GRAPH_URL=%s/v1.0\n  WINTRO_MS_CLIENT_ID=%s\n  client secret: %s\n  redirect URI: %s\n",
		ln.Addr(), baseURL, baseURL, *clientID, *secret, *redirect)

	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// rotateKeys re-encrypts every stored secret with the first key of
// WINTRO_VAULT_KEYS; with --check it only reports which keys are in use and
// fails when a referenced key is missing from the keyring.
func rotateKeys(ctx context.Context, getenv func(string) string, args []string) error {
	fs := flag.NewFlagSet("rotate-keys", flag.ContinueOnError)
	check := fs.Bool("check", false, "only report key usage; fail when a stored secret uses a key not in WINTRO_VAULT_KEYS")
	batch := fs.Int("batch", 500, "rows re-encrypted per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.VaultKeys == "" && cfg.DevMode {
		// Dev mode keeps its generated key in the data folder.
		if b, err := os.ReadFile(filepath.Join(cfg.DataDir, devVaultKeyFile)); err == nil {
			cfg.VaultKeys = devVaultKeyID + ":" + strings.TrimSpace(string(b))
		}
	}
	if cfg.VaultKeys == "" {
		return errors.New("WINTRO_VAULT_KEYS is empty; rotate-keys needs the keyring (id:base64key,…, the new key first)")
	}
	keys, err := vault.ParseKeyring(cfg.VaultKeys)
	if err != nil {
		return fmt.Errorf("WINTRO_VAULT_KEYS: %w", err)
	}
	d, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxOpenConns: 4})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	store := vault.NewStore(d, keys, time.Now)

	if *check {
		return reportKeyUsage(ctx, store)
	}
	report, err := store.RotateKeys(ctx, *batch)
	if err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	fmt.Printf("re-encrypted %d secrets with key %q\n", report.Reencrypted, keys.PrimaryID())
	printUsage(report.Remaining)
	return nil
}

func reportKeyUsage(ctx context.Context, store *vault.Store) error {
	usage, err := store.KeyUsage(ctx)
	if err != nil {
		return fmt.Errorf("count key usage: %w", err)
	}
	printUsage(usage)
	if err := store.CheckKeysReferenced(ctx); err != nil {
		return err
	}
	fmt.Println("every referenced key is in WINTRO_VAULT_KEYS")
	return nil
}

func printUsage(usage map[string]int) {
	ids := make([]string, 0, len(usage))
	for id := range usage {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(os.Stdout, "  key %q: %d secrets\n", id, usage[id])
	}
}
