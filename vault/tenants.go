package vault

import (
	"context"
	"fmt"
)

// adminApprovedCode is the last connect error code ClearPendingForOrg leaves
// on connections it releases, so the app can tell the recruiter to connect again.
const adminApprovedCode = "ADMIN_APPROVED"

// RecordTenantApproval records that an administrator approved the app for
// tenantID, on behalf of orgID. Recording it again updates the time and org.
func (s *Store) RecordTenantApproval(ctx context.Context, tenantID, orgID string) error {
	_, err := s.exec(ctx, s.q(`INSERT INTO tenant_approvals (tenant_id, org_id, approved_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET org_id = excluded.org_id, approved_at = excluded.approved_at`),
		tenantID, orgID, s.clock())
	if err != nil {
		return fmt.Errorf("record tenant approval: %w", err)
	}
	return nil
}

// TenantApproved reports whether an approval was recorded for tenantID.
func (s *Store) TenantApproved(ctx context.Context, tenantID string) (bool, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM tenant_approvals WHERE tenant_id = ?`), tenantID); err != nil {
		return false, fmt.Errorf("read tenant approval: %w", err)
	}
	return n > 0, nil
}

// ClearPendingForOrg moves every PENDING_ADMIN_APPROVAL connection of orgID
// to DISCONNECTED, with last connect error code ADMIN_APPROVED and message,
// and returns how many it moved. An empty orgID matches no connection,
// because recruiters without an org may belong to unrelated tenants.
func (s *Store) ClearPendingForOrg(ctx context.Context, orgID, message string) (int64, error) {
	if orgID == "" {
		return 0, nil
	}
	res, err := s.exec(ctx, s.q(`UPDATE connections SET status = ?, expired_reason = NULL,
		last_connect_error_code = ?, last_connect_error_message = ?, version = version + 1, updated_at = ?
		WHERE org_id = ? AND status = ?`),
		StatusDisconnected, adminApprovedCode, message, s.clock(), orgID, StatusPendingAdminApproval)
	if err != nil {
		return 0, fmt.Errorf("clear pending connections: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clear pending connections: %w", err)
	}
	return n, nil
}
