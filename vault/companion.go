package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wintro/teams-messaging/db"
)

// A Companion is a statement that runs together with the read of a
// recruiter's connection, so that a caller who needs both pays for one
// database round trip on PostgreSQL instead of two.
//
// SQL is one statement with ? placeholders that reads from the table conn:
// the recruiter's connections row, with every column, or no row. It may
// write (an INSERT … SELECT … FROM conn … RETURNING, for example) and yields
// at most one row, scanned into Dest. Dest must accept NULL, as
// sql.NullString does: every destination is NULL when the statement yields
// no row.
//
// On PostgreSQL the statement is a data-modifying WITH query of the read, so
// both see the same snapshot and commit together. On SQLite, which has no
// data-modifying WITH, it runs right after the read as its own statement in
// the process's write turn, and reads conn again.
type Companion struct {
	SQL  string
	Args []any
	Dest []any
}

// GetConnectionWith reads the connection with its tokens, as GetConnection
// does, and runs comp once. Whenever the read succeeded, comp has run and
// its Dest holds its result, even when GetConnectionWith returns an error.
func (s *Store) GetConnectionWith(ctx context.Context, recruiterID string, comp *Companion) (*Connection, error) {
	row, err := s.readWith(ctx, recruiterID, comp)
	if err != nil {
		return nil, err
	}
	return s.openRow(ctx, recruiterID, row)
}

// readWith reads the recruiter's row and runs comp.
func (s *Store) readWith(ctx context.Context, recruiterID string, comp *Companion) (*connectionRow, error) {
	conn := `WITH conn AS (SELECT ` + connectionColumns + ` FROM connections WHERE recruiter_id = ?)`
	args := append([]any{recruiterID}, comp.Args...)

	if s.db.Dialect != db.Postgres {
		row, err := s.getRow(ctx, s.db, "recruiter_id", recruiterID, "")
		if err != nil {
			return nil, err
		}
		err = s.write(ctx, func() error {
			return s.scanCompanion(ctx, conn+" "+comp.SQL, args, comp.Dest)
		})
		if err != nil {
			return nil, err
		}
		return row, nil
	}

	var row connectionRow
	query := conn + `, companion AS (` + comp.SQL + `)
		SELECT conn.*, companion.* FROM conn LEFT JOIN companion ON true`
	st, err := s.db.Prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	err = st.QueryRowxContext(ctx, args...).Scan(append(row.fields(), comp.Dest...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, withContextErr(ctx, fmt.Errorf("read connection: %w", err))
	}
	return &row, nil
}

// scanCompanion runs a companion statement on SQLite. A statement that
// yields no row leaves NULL in every destination.
func (s *Store) scanCompanion(ctx context.Context, query string, args, dest []any) error {
	st, err := s.db.Prepared(ctx, query)
	if err != nil {
		return err
	}
	err = st.QueryRowxContext(ctx, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		for _, d := range dest {
			if sc, ok := d.(sql.Scanner); ok {
				if err := sc.Scan(nil); err != nil {
					return fmt.Errorf("run statement with connection read: %w", err)
				}
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("run statement with connection read: %w", err)
	}
	return nil
}
