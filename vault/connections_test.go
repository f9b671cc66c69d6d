package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/vault"
)

func TestSaveGetRoundTrip(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")

		if c.ID == "" || c.Version < 1 {
			t.Fatalf("SaveConnected filled ID %q, Version %d, want both set", c.ID, c.Version)
		}
		got, err := s.GetConnection(ctx, "r1", true)
		if err != nil {
			t.Fatalf("GetConnection = %v", err)
		}
		now := clock.Now()
		want := tokensFor("r1", 0, now.Add(time.Hour))
		if got.Tokens == nil || *got.Tokens != want {
			t.Errorf("GetConnection(...).Tokens = %+v, want %+v", got.Tokens, want)
		}
		checks := []struct {
			name      string
			got, want any
		}{
			{"ID", got.ID, c.ID},
			{"Status", got.Status, vault.StatusConnected},
			{"ExpiredReason", got.ExpiredReason, vault.ExpiredReason("")},
			{"OrgID", got.OrgID, "org-1"},
			{"AccountID", got.AccountID, "oid-r1"},
			{"TenantID", got.TenantID, "tenant-1"},
			{"Email", got.Email, "r1@contoso.example"},
			{"DisplayName", got.DisplayName, "Recruiter r1"},
			{"GrantedScopes", strings.Join(got.GrantedScopes, " "), "Chat.ReadWrite User.Read offline_access"},
			{"HasTokens", got.HasTokens, true},
			{"ConnectedAt", *got.ConnectedAt, now},
			{"LastRefreshedAt", *got.LastRefreshedAt, now},
			{"RefreshTokenUsedAt", *got.RefreshTokenUsedAt, now},
			{"LastUsedAt", got.LastUsedAt, (*time.Time)(nil)},
			{"Version", got.Version, c.Version},
			{"CreatedAt", got.CreatedAt, now},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("GetConnection(...).%s = %v, want %v", ch.name, ch.got, ch.want)
			}
		}

		noTokens, err := s.GetConnection(ctx, "r1", false)
		if err != nil || noTokens.Tokens != nil || !noTokens.HasTokens {
			t.Errorf("GetConnection(withTokens=false) = Tokens %v, HasTokens %v, err %v; want nil, true, nil",
				noTokens.Tokens, noTokens.HasTokens, err)
		}
		if _, err := s.GetConnection(ctx, "nobody", true); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("GetConnection(nobody) = %v, want ErrNotFound", err)
		}
	})
}

func TestSaveConnectedExistingRow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		first := connect(t, s, clock, "r1")
		addChat(t, d, first.ID, "r1", "colleague-1")
		if err := s.MarkExpired(ctx, first.ID, 0, vault.ReasonPasswordReset); err != nil {
			t.Fatalf("MarkExpired = %v", err)
		}

		// The same account connects again: same row, chat cache kept.
		clock.Add(time.Minute)
		again := connect(t, s, clock, "r1")
		if again.ID != first.ID {
			t.Errorf("SaveConnected again: ID = %q, want %q", again.ID, first.ID)
		}
		if again.Version <= first.Version {
			t.Errorf("SaveConnected again: Version = %d, want > %d", again.Version, first.Version)
		}
		got, err := s.GetConnection(ctx, "r1", true)
		if err != nil || got.Status != vault.StatusConnected || got.ExpiredReason != "" || got.Tokens == nil {
			t.Fatalf("GetConnection = %+v, %v, want CONNECTED with tokens and no reason", got, err)
		}
		if n := countRows(t, d, "chat_cache", "connection_id = ?", first.ID); n != 1 {
			t.Errorf("chat_cache rows after reconnect of same account = %d, want 1", n)
		}

		// Another Microsoft account: its chats differ, so the cache goes.
		other := &vault.Connection{RecruiterID: "r1", AccountID: "oid-other", TenantID: "tenant-1"}
		if err := s.SaveConnected(ctx, other, tokensFor("r1", 1, clock.Now().Add(time.Hour))); err != nil {
			t.Fatalf("SaveConnected(other account) = %v", err)
		}
		if n := countRows(t, d, "chat_cache", "connection_id = ?", first.ID); n != 0 {
			t.Errorf("chat_cache rows after account change = %d, want 0", n)
		}
	})
}

// TestNoPlaintextInRows reads every column of every row as raw bytes and
// searches for the tokens and verifier.
func TestNoPlaintextInRows(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		connect(t, s, clock, "r1")
		req := vault.ConnectRequest{StateHash: "h1", Kind: vault.KindConnect, RecruiterID: "r1",
			Verifier: "VERIFIER-PLAINTEXT-xyz", ExpiresAt: clock.Now().Add(10 * time.Minute)}
		if err := s.CreateConnectRequest(ctx, req); err != nil {
			t.Fatalf("CreateConnectRequest = %v", err)
		}

		secrets := []string{"AT-PLAINTEXT", "RT-PLAINTEXT", "VERIFIER-PLAINTEXT"}
		for _, table := range []string{"connections", "connect_requests"} {
			rows, err := d.QueryxContext(ctx, `SELECT * FROM `+table)
			if err != nil {
				t.Fatalf("select %s: %v", table, err)
			}
			n := 0
			for rows.Next() {
				n++
				values, err := rows.SliceScan()
				if err != nil {
					t.Fatalf("scan %s: %v", table, err)
				}
				for i, v := range values {
					raw := rawBytes(v)
					for _, secret := range secrets {
						if bytes.Contains(raw, []byte(secret)) {
							t.Errorf("%s column %d contains %q in plaintext", table, i, secret)
						}
					}
				}
			}
			rows.Close()
			if n == 0 {
				t.Errorf("%s has no rows, want at least 1", table)
			}
		}
	})
}

func TestTamperExpiresKeyUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		alter  func(t *testing.T, d *db.DB, id string) // changes the stored access token
		wantIs error
	}{
		{"flipped byte", func(t *testing.T, d *db.DB, id string) {
			access, _ := rawTokens(t, d, id)
			access[len(access)-1] ^= 0x01
			setAccessToken(t, d, id, access)
		}, vault.ErrAuthFailed},
		{"swapped kind", func(t *testing.T, d *db.DB, id string) {
			_, refresh := rawTokens(t, d, id)
			setAccessToken(t, d, id, refresh)
		}, vault.ErrAuthFailed},
		{"bad version", func(t *testing.T, d *db.DB, id string) {
			access, _ := rawTokens(t, d, id)
			access[0] = 9
			setAccessToken(t, d, id, access)
		}, vault.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				s, clock := newStore(t, d)
				var hookIDs []string
				var hookErr error
				s.OnDecryptFailure = func(id string, err error) { hookIDs, hookErr = append(hookIDs, id), err }
				c := connect(t, s, clock, "r1")
				tt.alter(t, d, c.ID)
				beforeAccess, beforeRefresh := rawTokens(t, d, c.ID)

				got, err := s.GetConnection(ctx, "r1", true)
				if err != nil {
					t.Fatalf("GetConnection = %v, want nil", err)
				}
				if got.Status != vault.StatusExpired || got.ExpiredReason != vault.ReasonKeyUnavailable || got.Tokens != nil {
					t.Errorf("GetConnection = status %s, reason %s, tokens %v; want EXPIRED, KEY_UNAVAILABLE, nil",
						got.Status, got.ExpiredReason, got.Tokens)
				}
				afterAccess, afterRefresh := rawTokens(t, d, c.ID)
				if !bytes.Equal(afterAccess, beforeAccess) || !bytes.Equal(afterRefresh, beforeRefresh) {
					t.Error("stored ciphertexts changed, want them kept for a key restore")
				}
				if len(hookIDs) != 1 || hookIDs[0] != c.ID || !errors.Is(hookErr, tt.wantIs) {
					t.Errorf("OnDecryptFailure calls = %v with %v, want [%s] with %v", hookIDs, hookErr, c.ID, tt.wantIs)
				}

				stored, err := s.GetConnection(ctx, "r1", true)
				if err != nil || stored.Status != vault.StatusExpired || len(hookIDs) != 1 {
					t.Errorf("second GetConnection = %s, %v, hook calls %d; want EXPIRED, nil, 1", stored.Status, err, len(hookIDs))
				}
			})
		})
	}
}

// TestKeyRestoreReconnects drops the sealing key, then restores it.
func TestKeyRestoreReconnects(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := newTestClock()
		oldKey := vault.Key{ID: "old", Secret: mustKey(t)}
		newKey := vault.Key{ID: "new", Secret: mustKey(t)}
		connect(t, vault.NewStore(d, mustKeyring(t, oldKey), clock.Now), clock, "r1")

		lost := vault.NewStore(d, mustKeyring(t, newKey), clock.Now)
		var hookErr error
		lost.OnDecryptFailure = func(_ string, err error) { hookErr = err }
		got, err := lost.GetConnection(ctx, "r1", true)
		if err != nil || got.Status != vault.StatusExpired || got.ExpiredReason != vault.ReasonKeyUnavailable {
			t.Fatalf("GetConnection without key = %s/%s, %v; want EXPIRED/KEY_UNAVAILABLE, nil", got.Status, got.ExpiredReason, err)
		}
		if !errors.Is(hookErr, vault.ErrKeyUnavailable) {
			t.Errorf("OnDecryptFailure err = %v, want ErrKeyUnavailable", hookErr)
		}
		if err := lost.CheckKeysReferenced(ctx); !errors.Is(err, vault.ErrKeyUnavailable) || !strings.Contains(err.Error(), `"old"`) {
			t.Errorf("CheckKeysReferenced = %v, want ErrKeyUnavailable naming \"old\"", err)
		}

		restored := vault.NewStore(d, mustKeyring(t, newKey, oldKey), clock.Now)
		got, err = restored.GetConnection(ctx, "r1", true)
		if err != nil || got.Status != vault.StatusConnected || got.Tokens == nil {
			t.Errorf("GetConnection after restore = %s, tokens %v, %v; want CONNECTED with tokens", got.Status, got.Tokens, err)
		}
		if err := restored.CheckKeysReferenced(ctx); err != nil {
			t.Errorf("CheckKeysReferenced after restore = %v, want nil", err)
		}
	})
}

func TestRecordConnectError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(t *testing.T, s *vault.Store, clock *testkit.Clock)
		pending    bool
		wantStatus vault.Status
		wantReason vault.ExpiredReason
		wantTokens bool
	}{
		{"new declined", nil, false, vault.StatusDisconnected, "", false},
		{"new pending", nil, true, vault.StatusPendingAdminApproval, "", false},
		{"connected", func(t *testing.T, s *vault.Store, c *testkit.Clock) { connect(t, s, c, "r1") }, false, vault.StatusConnected, "", true},
		{"connected pending", func(t *testing.T, s *vault.Store, c *testkit.Clock) { connect(t, s, c, "r1") }, true, vault.StatusConnected, "", true},
		{"expired", func(t *testing.T, s *vault.Store, c *testkit.Clock) {
			conn := connect(t, s, c, "r1")
			if err := s.MarkExpired(context.Background(), conn.ID, 0, vault.ReasonAccessRevoked); err != nil {
				t.Fatalf("MarkExpired = %v", err)
			}
		}, false, vault.StatusExpired, vault.ReasonAccessRevoked, false},
		{"expired pending", func(t *testing.T, s *vault.Store, c *testkit.Clock) {
			conn := connect(t, s, c, "r1")
			if err := s.MarkExpired(context.Background(), conn.ID, 0, vault.ReasonAccessRevoked); err != nil {
				t.Fatalf("MarkExpired = %v", err)
			}
		}, true, vault.StatusPendingAdminApproval, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				s, clock := newStore(t, d)
				if tt.setup != nil {
					tt.setup(t, s, clock)
				}
				if err := s.RecordConnectError(ctx, "r1", "org-9", "consent_declined", "You declined.", tt.pending); err != nil {
					t.Fatalf("RecordConnectError = %v", err)
				}
				got, err := s.GetConnection(ctx, "r1", true)
				if err != nil {
					t.Fatalf("GetConnection = %v", err)
				}
				if got.Status != tt.wantStatus || got.ExpiredReason != tt.wantReason || (got.Tokens != nil) != tt.wantTokens {
					t.Errorf("after RecordConnectError: %s/%q tokens %v, want %s/%q tokens %v",
						got.Status, got.ExpiredReason, got.Tokens != nil, tt.wantStatus, tt.wantReason, tt.wantTokens)
				}
				if got.LastConnectErrorCode != "consent_declined" || got.LastConnectErrorMessage != "You declined." {
					t.Errorf("last connect error = %q %q, want consent_declined, You declined.", got.LastConnectErrorCode, got.LastConnectErrorMessage)
				}

				connect(t, s, clock, "r1")
				if got, _ := s.GetConnection(ctx, "r1", false); got.LastConnectErrorCode != "" {
					t.Errorf("LastConnectErrorCode after SaveConnected = %q, want empty", got.LastConnectErrorCode)
				}
			})
		})
	}
}

func TestMarkExpired(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")

		if err := s.MarkExpired(ctx, c.ID, c.Version+1, vault.ReasonPasswordReset); !errors.Is(err, vault.ErrConflict) {
			t.Errorf("MarkExpired(stale version) = %v, want ErrConflict", err)
		}
		if err := s.MarkExpired(ctx, "no-such-id", 1, vault.ReasonPasswordReset); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("MarkExpired(missing) = %v, want ErrNotFound", err)
		}
		if err := s.MarkExpired(ctx, c.ID, c.Version, vault.ReasonPasswordReset); err != nil {
			t.Fatalf("MarkExpired = %v, want nil", err)
		}
		got, err := s.GetConnection(ctx, "r1", true)
		if err != nil || got.Status != vault.StatusExpired || got.ExpiredReason != vault.ReasonPasswordReset || got.HasTokens {
			t.Errorf("GetConnection = %s/%s HasTokens %v, %v; want EXPIRED/PASSWORD_RESET without tokens", got.Status, got.ExpiredReason, got.HasTokens, err)
		}
		if access, refresh := rawTokens(t, d, c.ID); access != nil || refresh != nil {
			t.Errorf("stored tokens after MarkExpired = %d, %d bytes, want NULL", len(access), len(refresh))
		}
	})
}

func TestTouchLastUsed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")
		clock.Add(time.Minute)

		if err := s.TouchLastUsed(ctx, c.ID); err != nil {
			t.Fatalf("TouchLastUsed = %v", err)
		}
		got, _ := s.GetConnection(ctx, "r1", false)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, clock.Now())
		}
		if got.Version != c.Version {
			t.Errorf("Version = %d, want %d (unchanged)", got.Version, c.Version)
		}
		if err := s.TouchLastUsed(ctx, "no-such-id"); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("TouchLastUsed(missing) = %v, want ErrNotFound", err)
		}
	})
}

// TestDeleteRecruiter fills every table for two recruiters, deletes one and
// checks by SQL that none of its rows remain and the other's are intact.
func TestDeleteRecruiter(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		for _, r := range []string{"r1", "r2"} {
			c := connect(t, s, clock, r)
			addChat(t, d, c.ID, r, "colleague-1")
			addChat(t, d, c.ID, r, "colleague-2")
			addSentMessage(t, d, r, "key-1")
			req := vault.ConnectRequest{StateHash: "h-" + r, Kind: vault.KindConnect, RecruiterID: r,
				Verifier: "v", ExpiresAt: clock.Now().Add(time.Minute)}
			if err := s.CreateConnectRequest(ctx, req); err != nil {
				t.Fatalf("CreateConnectRequest = %v", err)
			}
		}

		n, err := s.DeleteRecruiter(ctx, "r1")
		if err != nil || n != 5 {
			t.Errorf("DeleteRecruiter = %d, %v, want 5, nil", n, err)
		}
		for _, table := range []string{"connections", "connect_requests", "chat_cache", "sent_messages"} {
			if got := countRows(t, d, table, "recruiter_id = ?", "r1"); got != 0 {
				t.Errorf("%s rows of r1 after DeleteRecruiter = %d, want 0", table, got)
			}
			if got := countRows(t, d, table, "recruiter_id = ?", "r2"); got == 0 {
				t.Errorf("%s rows of r2 after DeleteRecruiter(r1) = 0, want kept", table)
			}
		}
		if n, err := s.DeleteRecruiter(ctx, "r1"); err != nil || n != 0 {
			t.Errorf("DeleteRecruiter again = %d, %v, want 0, nil", n, err)
		}
	})
}

func TestCountByStatus(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		connect(t, s, clock, "r1")
		connect(t, s, clock, "r2")
		if err := s.RecordConnectError(ctx, "r3", "org", "admin", "m", true); err != nil {
			t.Fatalf("RecordConnectError = %v", err)
		}
		got, err := s.CountByStatus(ctx)
		if err != nil {
			t.Fatalf("CountByStatus = %v", err)
		}
		want := map[vault.Status]int{vault.StatusConnected: 2, vault.StatusPendingAdminApproval: 1}
		if len(got) != len(want) || got[vault.StatusConnected] != 2 || got[vault.StatusPendingAdminApproval] != 1 {
			t.Errorf("CountByStatus = %v, want %v", got, want)
		}
	})
}

// TestSaveConnectedConcurrentNewRecruiter saves one new recruiter from many
// goroutines: exactly one row results.
func TestSaveConnectedConcurrentNewRecruiter(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, clock := newStore(t, d)
		var wg sync.WaitGroup
		ids := make([]string, 8)
		errs := make([]error, len(ids))
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &vault.Connection{RecruiterID: "r1", AccountID: "oid"}
				errs[i] = s.SaveConnected(context.Background(), c, tokensFor("r1", i, clock.Now()))
				ids[i] = c.ID
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("SaveConnected #%d = %v", i, err)
			}
		}
		if n := countRows(t, d, "connections", "recruiter_id = ?", "r1"); n != 1 {
			t.Errorf("rows = %d, want 1", n)
		}
		if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); len(distinct) != 1 {
			t.Errorf("ids = %v, want one id", ids)
		}
	})
}

func addChat(t *testing.T, d *db.DB, connectionID, recruiterID, recipientID string) {
	t.Helper()
	_, err := d.ExecContext(context.Background(), d.Rebind(`INSERT INTO chat_cache (connection_id, recruiter_id, recipient_id, chat_id, created_at)
		VALUES (?, ?, ?, ?, ?)`), connectionID, recruiterID, recipientID, "19:chat-"+recipientID, time.Now().UTC())
	if err != nil {
		t.Fatalf("insert chat_cache: %v", err)
	}
}

func addSentMessage(t *testing.T, d *db.DB, recruiterID, key string) {
	t.Helper()
	now := time.Now().UTC()
	_, err := d.ExecContext(context.Background(), d.Rebind(`INSERT INTO sent_messages (recruiter_id, idempotency_key, request_hash, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`), recruiterID, key, "hash", "sent", now, now)
	if err != nil {
		t.Fatalf("insert sent_messages: %v", err)
	}
}

func setAccessToken(t *testing.T, d *db.DB, id string, value []byte) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), d.Rebind(`UPDATE connections SET access_token = ? WHERE id = ?`), value, id); err != nil {
		t.Fatalf("set access token: %v", err)
	}
}

// rawBytes renders a scanned column value as bytes for searching.
func rawBytes(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return nil
	default:
		return []byte(fmt.Sprint(v))
	}
}

// TestDisconnectKeepsSentRecords checks that a disconnect deletes the
// connection, its chats and open connect requests, and keeps the
// sent-message records that make idempotency keys work across a reconnect.
func TestDisconnectKeepsSentRecords(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")
		addChat(t, d, c.ID, "r1", "colleague-1")
		addSentMessage(t, d, "r1", "key-1")
		req := vault.ConnectRequest{StateHash: "h-r1", Kind: vault.KindConnect, RecruiterID: "r1",
			Verifier: "v", ExpiresAt: clock.Now().Add(time.Minute)}
		if err := s.CreateConnectRequest(ctx, req); err != nil {
			t.Fatalf("CreateConnectRequest = %v", err)
		}

		if err := s.Disconnect(ctx, "r1"); err != nil {
			t.Fatalf("Disconnect = %v", err)
		}
		for _, table := range []string{"connections", "connect_requests", "chat_cache"} {
			if got := countRows(t, d, table, "recruiter_id = ?", "r1"); got != 0 {
				t.Errorf("%s rows after Disconnect = %d, want 0", table, got)
			}
		}
		if got := countRows(t, d, "sent_messages", "recruiter_id = ?", "r1"); got != 1 {
			t.Errorf("sent_messages rows after Disconnect = %d, want 1", got)
		}
		if err := s.Disconnect(ctx, "r1"); err != nil {
			t.Errorf("Disconnect again = %v, want nil", err)
		}
	})
}
