package vault_test

import (
	"context"
	"testing"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/vault"
)

func TestTenantApproval(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _ := newStore(t, d)
		if ok, err := s.TenantApproved(ctx, "t1"); err != nil || ok {
			t.Errorf("TenantApproved before = %v, %v, want false, nil", ok, err)
		}
		for range 2 {
			if err := s.RecordTenantApproval(ctx, "t1", "org-1"); err != nil {
				t.Fatalf("RecordTenantApproval = %v", err)
			}
		}
		if ok, err := s.TenantApproved(ctx, "t1"); err != nil || !ok {
			t.Errorf("TenantApproved after = %v, %v, want true, nil", ok, err)
		}
		if ok, _ := s.TenantApproved(ctx, "t2"); ok {
			t.Error("TenantApproved(t2) = true, want false")
		}
	})
}

func TestClearPendingForOrg(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		for _, r := range []struct{ recruiter, org string }{{"r1", "org-1"}, {"r2", "org-1"}, {"r3", "org-2"}} {
			if err := s.RecordConnectError(ctx, r.recruiter, r.org, "admin_approval_required", "pending", true); err != nil {
				t.Fatalf("RecordConnectError = %v", err)
			}
		}
		connect(t, s, clock, "r4") // org-1, CONNECTED: untouched

		n, err := s.ClearPendingForOrg(ctx, "org-1", "Your administrator approved Wintro. Connect again.")
		if err != nil || n != 2 {
			t.Errorf("ClearPendingForOrg = %d, %v, want 2, nil", n, err)
		}
		wants := map[string]vault.Status{
			"r1": vault.StatusDisconnected, "r2": vault.StatusDisconnected,
			"r3": vault.StatusPendingAdminApproval, "r4": vault.StatusConnected,
		}
		for r, want := range wants {
			got, err := s.GetConnection(ctx, r, false)
			if err != nil || got.Status != want {
				t.Errorf("GetConnection(%s) = %v, %v, want %s", r, got.Status, err, want)
			}
			if want == vault.StatusDisconnected && got.LastConnectErrorCode != "ADMIN_APPROVED" {
				t.Errorf("GetConnection(%s).LastConnectErrorCode = %q, want ADMIN_APPROVED", r, got.LastConnectErrorCode)
			}
		}
	})
}
