package vault

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// defaultRotationBatch is RotateKeys' batch size when given 0 or less.
const defaultRotationBatch = 100

// maxRotationAttempts bounds how often RotateKeys re-reads a row that
// changed between its read and its update.
const maxRotationAttempts = 3

// malformedKeyID counts, in KeyUsage, stored values without a valid header.
const malformedKeyID = "(malformed)"

// RotationReport is the result of RotateKeys.
type RotationReport struct {
	// Reencrypted counts the sealed values that RotateKeys re-encrypted.
	Reencrypted int
	// Remaining counts, per key id other than the primary, the values still
	// sealed by that key because the key is missing or the value failed to open.
	Remaining map[string]int
}

// sealedColumn is one column of sealed values with its row key and the
// associated data of each value.
type sealedColumn struct {
	table, key, column string
	ad                 func(rowKey string) []byte
}

var sealedColumns = []sealedColumn{
	{"connections", "id", "access_token", func(id string) []byte { return tokenAD(id, kindAccess) }},
	{"connections", "id", "refresh_token", func(id string) []byte { return tokenAD(id, kindRefresh) }},
	{"connect_requests", "state_hash", "verifier", verifierAD},
}

// RotateKeys re-encrypts with the primary key every sealed value that
// another key sealed, reading batchSize rows at a time (100 when 0 or less).
// It runs online. Each value is replaced only if the row still contains the
// value that was read, a compare-and-swap on the ciphertext rather than on
// the version. So a concurrent Refresh or SaveConnected is never
// overwritten, and RotateKeys reads such a row again. Versions do not
// change. Values that fail to open stay as they are and count in Remaining.
func (s *Store) RotateKeys(ctx context.Context, batchSize int) (RotationReport, error) {
	if batchSize <= 0 {
		batchSize = defaultRotationBatch
	}
	var report RotationReport
	for _, col := range sealedColumns {
		n, err := s.rotateColumn(ctx, col, batchSize)
		report.Reencrypted += n
		if err != nil {
			return report, fmt.Errorf("rotate %s.%s: %w", col.table, col.column, err)
		}
	}

	usage, err := s.KeyUsage(ctx)
	if err != nil {
		return report, err
	}
	delete(usage, s.keys.PrimaryID())
	report.Remaining = usage
	return report, nil
}

// KeyUsage counts stored sealed values (both token columns of connections
// and the verifiers of connect requests) per key id.
func (s *Store) KeyUsage(ctx context.Context) (map[string]int, error) {
	usage := map[string]int{}
	for _, col := range sealedColumns {
		if err := s.countKeyIDs(ctx, col, usage); err != nil {
			return nil, fmt.Errorf("count keys of %s.%s: %w", col.table, col.column, err)
		}
	}
	return usage, nil
}

// CheckKeysReferenced returns an error matching ErrKeyUnavailable that names
// every key id still referenced by a stored value but absent from the
// keyring, with its count. It returns nil when every value has its key.
func (s *Store) CheckKeysReferenced(ctx context.Context) error {
	usage, err := s.KeyUsage(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for id, n := range usage {
		if !s.keys.Has(id) {
			missing = append(missing, fmt.Sprintf("%q (%d values)", id, n))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%w: stored values reference key ids missing from the keyring: %s",
		ErrKeyUnavailable, strings.Join(missing, ", "))
}

// sealedValue is one stored value with its row key.
type sealedValue struct {
	Key   string `db:"k"`
	Value []byte `db:"v"`
}

// rotateColumn walks col in key order, batchSize rows at a time, and
// re-encrypts the values not sealed by the primary key.
func (s *Store) rotateColumn(ctx context.Context, col sealedColumn, batchSize int) (int, error) {
	primary := s.primaryHeader()
	query := s.q(`SELECT ` + col.key + ` AS k, ` + col.column + ` AS v FROM ` + col.table + `
		WHERE ` + col.key + ` > ? AND ` + col.column + ` IS NOT NULL AND substr(` + col.column + `, 1, ?) <> ?
		ORDER BY ` + col.key + ` LIMIT ?`)

	done, after := 0, ""
	for {
		var batch []sealedValue
		if err := s.db.SelectContext(ctx, &batch, query, after, len(primary), primary, batchSize); err != nil {
			return done, fmt.Errorf("read batch: %w", err)
		}
		for _, v := range batch {
			ok, err := s.rotateValue(ctx, col, v)
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
		}
		if len(batch) < batchSize {
			return done, nil
		}
		after = batch[len(batch)-1].Key
	}
}

// rotateValue re-encrypts one value if it opens, retrying when the row
// changed meanwhile. It reports whether it replaced a value.
func (s *Store) rotateValue(ctx context.Context, col sealedColumn, v sealedValue) (bool, error) {
	update := s.q(`UPDATE ` + col.table + ` SET ` + col.column + ` = ? WHERE ` + col.key + ` = ? AND ` + col.column + ` = ?`)
	reread := s.q(`SELECT ` + col.column + ` FROM ` + col.table + ` WHERE ` + col.key + ` = ?`)
	primary := s.primaryHeader()

	for attempt := 1; attempt <= maxRotationAttempts; attempt++ {
		if v.Value == nil || bytes.HasPrefix(v.Value, primary) {
			return false, nil // emptied or already rotated by a concurrent write
		}
		plaintext, err := s.keys.Open(v.Value, col.ad(v.Key))
		if err != nil {
			return false, nil // left in place; reported in Remaining
		}
		sealed, err := s.keys.Seal(plaintext, col.ad(v.Key))
		if err != nil {
			return false, fmt.Errorf("seal: %w", err)
		}

		res, err := s.exec(ctx, update, sealed, v.Key, v.Value)
		if err != nil {
			return false, fmt.Errorf("update value: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return n > 0, err
		}
		if err := s.db.GetContext(ctx, &v.Value, reread, v.Key); err != nil {
			return false, ignoreNoRows(err)
		}
	}
	return false, nil // still changing; a later rotation picks it up
}

// countKeyIDs adds the key ids of col's values to usage, reading only the
// header of each value.
func (s *Store) countKeyIDs(ctx context.Context, col sealedColumn, usage map[string]int) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT substr(`+col.column+`, 1, ?) FROM `+col.table+`
		WHERE `+col.column+` IS NOT NULL`), 2+maxIDLen)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var header []byte
		if err := rows.Scan(&header); err != nil {
			return err
		}
		id, err := headerKeyID(header)
		if err != nil {
			id = malformedKeyID
		}
		usage[id]++
	}
	return rows.Err()
}

// primaryHeader returns the bytes every value sealed by the primary key starts with.
func (s *Store) primaryHeader() []byte {
	id := s.keys.PrimaryID()
	return append([]byte{formatV1, byte(len(id))}, id...)
}

// headerKeyID returns the key id of a value's header.
func headerKeyID(header []byte) (string, error) {
	id, _, err := splitHeader(header)
	return id, err
}

func ignoreNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return fmt.Errorf("read value: %w", err)
}
