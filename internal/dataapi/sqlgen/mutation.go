package sqlgen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
)

// MutationWhere renders the WHERE clause of PATCH and DELETE: the filters,
// or with limit/offset the rows an ordered, limited read of them picks
// (PostgREST 12's limited update/delete: PostgreSQL has no UPDATE ...
// LIMIT). Rows are named by (tableoid, ctid), which holds for partitioned
// tables too; a view has no ctid, so it cannot be limited.
func (b *Builder) MutationWhere(root *Node, t *schema.Table) (string, error) {
	conds, err := b.conditions(root)
	if err != nil {
		return "", err
	}
	p := root.Params
	if p.Limit == nil && p.Offset == nil {
		if len(conds) == 0 {
			return "", nil
		}
		return " WHERE " + strings.Join(conds, " AND "), nil
	}
	if len(p.Order) == 0 {
		return "", &pgrst.Error{Status: 400, Code: "PGRST109", Message: "A 'limit' was applied without an explicit 'order'",
			Hint: "Apply an 'order' using unique column(s)"}
	}
	for _, o := range p.Order {
		if o.Relation != "" {
			return "", &pgrst.Error{Status: 400, Code: "PGRST118",
				Message: fmt.Sprintf("A related order on '%s' is not possible", o.Relation),
				Details: "A limited update or delete is ordered by columns of its own table"}
		}
	}
	if t.Kind != "r" && t.Kind != "p" {
		return "", &pgrst.Error{Status: 400, Code: "PGRST100",
			Message: fmt.Sprintf("A 'limit' on an update or delete of '%s' is not possible", t.Name),
			Details: "Only tables can be limited: views have no row identity (ctid)"}
	}
	order, err := b.orderBy(root)
	if err != nil {
		return "", err
	}
	a := Ident(root.alias)
	pick := "SELECT " + a + ".tableoid, " + a + ".ctid FROM " + QualifiedName(t.QName()) + " AS " + a
	if len(conds) > 0 {
		pick += " WHERE " + strings.Join(conds, " AND ")
	}
	pick += " ORDER BY " + strings.Join(order, ", ")
	if p.Limit != nil {
		pick += " LIMIT " + b.P(strconv.FormatInt(*p.Limit, 10))
	}
	if p.Offset != nil && *p.Offset > 0 {
		pick += " OFFSET " + b.P(strconv.FormatInt(*p.Offset, 10))
	}
	return " WHERE (" + a + ".tableoid, " + a + ".ctid) IN (" + pick + ")", nil
}
