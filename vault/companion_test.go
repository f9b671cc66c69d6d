package vault_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/vault"
)

// companionStore returns a store over d with recruiter r1 connected, and
// creates the table the test companion writes to, once per recruiter.
func companionStore(t *testing.T, d *db.DB) (*vault.Store, *testkit.Clock, *vault.Connection) {
	t.Helper()
	if _, err := d.Exec(`CREATE TABLE companion_log (recruiter_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	s, clock := newStore(t, d)
	return s, clock, connect(t, s, clock, "r1")
}

// logOnce returns a companion that records the recruiter's tenant once, for
// a CONNECTED connection only, and yields the tenant when it recorded it.
func logOnce(dest *sql.NullString) *vault.Companion {
	return &vault.Companion{
		SQL: `INSERT INTO companion_log (recruiter_id, tenant_id)
			SELECT conn.recruiter_id, conn.tenant_id || ? FROM conn WHERE conn.status = 'CONNECTED'
			ON CONFLICT (recruiter_id) DO NOTHING
			RETURNING tenant_id`,
		Args: []any{"/logged"},
		Dest: []any{dest},
	}
}

func TestGetConnectionWith(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock, _ := companionStore(t, d)

		var first sql.NullString
		c, err := s.GetConnectionWith(ctx, "r1", logOnce(&first))
		if err != nil {
			t.Fatalf("GetConnectionWith = %v", err)
		}
		want := tokensFor("r1", 0, clock.Now().Add(time.Hour))
		if c.Tokens == nil || *c.Tokens != want || c.Status != vault.StatusConnected {
			t.Errorf("GetConnectionWith = status %s, tokens %+v; want CONNECTED, %+v", c.Status, c.Tokens, want)
		}
		if first != (sql.NullString{String: "tenant-1/logged", Valid: true}) {
			t.Errorf("companion result = %+v, want tenant-1/logged", first)
		}

		// The companion's insert conflicts now, so it yields no row.
		second := sql.NullString{String: "stale", Valid: true}
		if _, err := s.GetConnectionWith(ctx, "r1", logOnce(&second)); err != nil {
			t.Fatalf("second GetConnectionWith = %v", err)
		}
		if second.Valid {
			t.Errorf("second companion result = %+v, want NULL", second)
		}

		var none sql.NullString
		if _, err := s.GetConnectionWith(ctx, "nobody", logOnce(&none)); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("GetConnectionWith(nobody) = %v, want ErrNotFound", err)
		}
		if none.Valid {
			t.Errorf("companion result without a connection = %+v, want NULL", none)
		}
		if n := countRows(t, d, "companion_log", "1 = 1"); n != 1 {
			t.Errorf("companion_log has %d rows, want 1", n)
		}
	})
}

// TestGetConnectionWithUnreadableTokens shows the companion runs even when
// the tokens then fail to open and the connection expires.
func TestGetConnectionWithUnreadableTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, c := companionStore(t, d)
		access, _ := rawTokens(t, d, c.ID)
		access[len(access)-1] ^= 0x01
		setAccessToken(t, d, c.ID, access)

		var got sql.NullString
		conn, err := s.GetConnectionWith(ctx, "r1", logOnce(&got))
		if err != nil {
			t.Fatalf("GetConnectionWith = %v", err)
		}
		if conn.Status != vault.StatusExpired || conn.ExpiredReason != vault.ReasonKeyUnavailable || conn.Tokens != nil {
			t.Errorf("GetConnectionWith = %s, %s, tokens %v; want EXPIRED, KEY_UNAVAILABLE, nil",
				conn.Status, conn.ExpiredReason, conn.Tokens)
		}
		if !got.Valid {
			t.Error("companion result = NULL, want the row it inserted before the tokens failed to open")
		}
	})
}
