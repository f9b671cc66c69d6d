package main

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Shape limits of one GraphQL operation. The deepest query the SPA needs is
// four levels; GraphiQL's introspection query reaches about twelve with its
// nested type references, so the depth limit leaves room for it.
const (
	maxQueryDepth  = 15
	maxQueryFields = 300 // aliases count as separate fields
	maxQueryTokens = 5000
)

// queryShapeLimit rejects operations that are too deep or select too many
// fields, before any resolver runs.
type queryShapeLimit struct {
	maxDepth, maxFields int
	// noIntrospection rejects __schema and __type with a clear error; gqlgen
	// itself would fail them as an internal error.
	noIntrospection bool
}

var (
	_ graphql.HandlerExtension        = queryShapeLimit{}
	_ graphql.OperationContextMutator = queryShapeLimit{}
)

func (queryShapeLimit) ExtensionName() string                          { return "QueryShapeLimit" }
func (queryShapeLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

// MutateOperationContext measures the operation with fragments expanded.
func (l queryShapeLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if l.noIntrospection && selectsIntrospection(oc.Operation.SelectionSet) {
		return &gqlerror.Error{Message: "Introspection is turned off on this server (WINTRO_INTROSPECTION).", Extensions: map[string]any{"code": "INTROSPECTION_DISABLED"}}
	}
	m := shapeMeter{maxDepth: l.maxDepth, maxFields: l.maxFields}
	m.walk(oc.Operation.SelectionSet, 1, 0)
	if m.tooDeep {
		return limitError(fmt.Sprintf("the operation is nested deeper than %d levels", l.maxDepth))
	}
	if m.fields > l.maxFields {
		return limitError(fmt.Sprintf("the operation selects more than %d fields (aliases included)", l.maxFields))
	}
	return nil
}

func limitError(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg + "; split it into smaller operations", Extensions: map[string]any{"code": "QUERY_TOO_COMPLEX"}}
}

// shapeMeter walks a selection set, stopping as soon as a limit is passed
// so a hostile query costs little to reject.
type shapeMeter struct {
	maxDepth, maxFields int
	fields              int
	tooDeep             bool
}

func (m *shapeMeter) walk(set ast.SelectionSet, depth, spreads int) {
	if m.tooDeep || m.fields > m.maxFields || spreads > m.maxDepth {
		return
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			m.fields++
			if len(s.SelectionSet) > 0 {
				if depth+1 > m.maxDepth {
					m.tooDeep = true
					return
				}
				m.walk(s.SelectionSet, depth+1, spreads)
			}
		case *ast.InlineFragment:
			m.walk(s.SelectionSet, depth, spreads)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				m.walk(s.Definition.SelectionSet, depth, spreads+1)
			}
		}
	}
}

// selectsIntrospection reports whether a root selection requests __schema or
// __type, directly or through fragments.
func selectsIntrospection(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if selectsIntrospection(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && selectsIntrospection(s.Definition.SelectionSet) {
				return true
			}
		}
	}
	return false
}
