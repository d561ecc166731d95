package catalog

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// PageSize is how many services a page of search or browse results holds.
const PageSize = 20

// categoryNames are the categories the catalog has names for. A manifest
// may use any slug; one not listed here is shown as written.
var categoryNames = map[string]manifest.Text{
	"animals":    {EN: "Animals and pets", ES: "Animales y mascotas"},
	"benefits":   {EN: "Benefits", ES: "Beneficios"},
	"business":   {EN: "Business", ES: "Negocios"},
	"education":  {EN: "Education", ES: "Educación"},
	"elections":  {EN: "Elections and voting", ES: "Elecciones y votación"},
	"family":     {EN: "Family and records", ES: "Familia y registros"},
	"health":     {EN: "Health", ES: "Salud"},
	"housing":    {EN: "Housing and property", ES: "Vivienda y propiedad"},
	"outdoors":   {EN: "Outdoors and recreation", ES: "Aire libre y recreación"},
	"permits":    {EN: "Permits", ES: "Permisos"},
	"safety":     {EN: "Public safety", ES: "Seguridad pública"},
	"streets":    {EN: "Streets and sidewalks", ES: "Calles y aceras"},
	"taxes":      {EN: "Taxes and payments", ES: "Impuestos y pagos"},
	"transport":  {EN: "Driving and transport", ES: "Conducir y transporte"},
	"utilities":  {EN: "Water and utilities", ES: "Agua y servicios públicos"},
	"work":       {EN: "Jobs and work", ES: "Empleo y trabajo"},
	"recreation": {EN: "Parks and recreation", ES: "Parques y recreación"},
}

// CategoryName returns the name of a category slug in both languages.
func CategoryName(slug string) manifest.Text {
	if t, ok := categoryNames[slug]; ok {
		return t
	}
	name := strings.ReplaceAll(slug, "-", " ")
	return manifest.Text{EN: name, ES: name}
}

// documents analyses a manifest for the index, in each language.
func documents(m *manifest.Manifest, a tenancy.Agency) (en, es document) {
	cat := CategoryName(m.Category)
	agencyES := a.NameES
	if agencyES == "" {
		agencyES = a.Name
	}
	slug := strings.ReplaceAll(m.Category, "-", " ")
	en[fieldTitle] = Terms(English, m.Title.EN)
	en[fieldKeywords] = Terms(English, strings.Join(m.Keywords.EN, " "))
	en[fieldCategory] = Terms(English, cat.EN+" "+slug)
	en[fieldAgency] = Terms(English, a.Name)
	en[fieldSummary] = Terms(English, m.Summary.EN)
	es[fieldTitle] = Terms(Spanish, m.Title.ES)
	es[fieldKeywords] = Terms(Spanish, strings.Join(m.Keywords.ES, " "))
	es[fieldCategory] = Terms(Spanish, cat.ES)
	es[fieldAgency] = Terms(Spanish, agencyES)
	es[fieldSummary] = Terms(Spanish, m.Summary.ES)
	return en, es
}

// index writes p, the new latest version of its service, into the search
// index inside the publishing transaction, so the index can never show a
// version that was not stored or miss one that was.
func (s *Service) index(ctx context.Context, tx *sql.Tx, p Published, a tenancy.Agency) error {
	en, es := documents(p.Manifest, a)
	_, err := tx.ExecContext(ctx, `INSERT INTO catalog_search (service_id, version, agency_id, category, sort_en, sort_es, terms_en, terms_es)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (service_id) DO UPDATE SET version = excluded.version, agency_id = excluded.agency_id, category = excluded.category,
			sort_en = excluded.sort_en, sort_es = excluded.sort_es, terms_en = excluded.terms_en, terms_es = excluded.terms_es`,
		p.ID, p.Version, p.AgencyID, p.Manifest.Category, sortKey(p.Manifest.Title.EN), sortKey(p.Manifest.Title.ES), en.encode(), es.encode())
	if err != nil {
		return fmt.Errorf("index %s@%d: %w", p.ID, p.Version, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_jurisdictions WHERE service_id = $1`, p.ID); err != nil {
		return fmt.Errorf("index %s@%d: %w", p.ID, p.Version, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_life_events WHERE service_id = $1`, p.ID); err != nil {
		return fmt.Errorf("index %s@%d: %w", p.ID, p.Version, err)
	}
	for _, e := range p.Manifest.LifeEvents {
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_life_events (life_event, service_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, e, p.ID); err != nil {
			return fmt.Errorf("index %s@%d: %w", p.ID, p.Version, err)
		}
	}
	for _, j := range p.Manifest.Jurisdictions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_jurisdictions (service_id, jurisdiction_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, p.ID, j); err != nil {
			return fmt.Errorf("index %s@%d: %w", p.ID, p.Version, err)
		}
	}
	return nil
}

// offeredIn returns the latest version of every service offered in one of
// jurisdictions (ids exactly; the caller passes a place's whole chain).
func (s *Service) offeredIn(ctx context.Context, jurisdictions []string) ([]Published, error) {
	if len(jurisdictions) == 0 {
		return nil, nil
	}
	var marks []string
	var args []any
	for _, j := range jurisdictions {
		args = append(args, j)
		marks = append(marks, "$"+strconv.Itoa(len(args)))
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT s.id, s.version, s.agency_id, s.manifest, s.source, s.published_at, s.published_by
		FROM services s JOIN catalog_search c ON c.service_id = s.id AND c.version = s.version
		WHERE c.service_id IN (SELECT service_id FROM catalog_jurisdictions WHERE jurisdiction_id IN (`+strings.Join(marks, ", ")+`))
		ORDER BY s.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: offered in: %w", err)
	}
	ps, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("catalog: offered in: %w", err)
	}
	return ps, nil
}

// Reindex rebuilds the search index from the latest version of every
// service, in one transaction. Publish keeps the index in step; this is
// for services published before the index existed and after an agency is
// renamed.
func (s *Service) Reindex(ctx context.Context) (int, error) {
	ps, err := s.List(ctx, "")
	if err != nil {
		return 0, err
	}
	agencies := map[string]tenancy.Agency{}
	for _, p := range ps {
		if _, ok := agencies[p.AgencyID]; !ok {
			a, err := s.tenancy.Agency(ctx, p.AgencyID)
			if err != nil {
				return 0, fmt.Errorf("catalog: reindex: %w", err)
			}
			agencies[p.AgencyID] = a
		}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, p := range ps {
			if err := s.index(ctx, tx, p, agencies[p.AgencyID]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: reindex: %w", err)
	}
	return len(ps), nil
}

// EnsureIndexed reindexes when the index does not hold exactly one row
// per published service (a database that had services before migration
// 00009). It is cheap enough to run at every start.
func (s *Service) EnsureIndexed(ctx context.Context) error {
	var services, indexed int
	err := s.db.Read().QueryRowContext(ctx, `SELECT (SELECT COUNT(DISTINCT id) FROM services), (SELECT COUNT(*) FROM catalog_search)`).Scan(&services, &indexed)
	if err != nil {
		return fmt.Errorf("catalog: index check: %w", err)
	}
	if services != indexed {
		_, err = s.Reindex(ctx)
	}
	return err
}

// SearchRequest is a search of the catalog, or a browse when Q has no
// words. Category and Agency narrow it to one category or agency.
type SearchRequest struct {
	Q        string
	Lang     string // "en" or "es": the language Q is analysed in
	Category string
	Agency   string
	Page     int // from 1; less is 1
}

// SearchResult is one page of results with the facets of the whole
// result.
type SearchResult struct {
	// Query is the text analysed in the request's language, Other in the
	// other language: both are searched, the request's language first.
	Query    Query
	Other    Query
	Total    int
	Page     int
	Pages    int
	Services []Published
	// Categories counts the results per category, ignoring the category
	// filter (so other categories can be chosen); Agencies likewise per
	// agency, ignoring the agency filter. Both are ordered by id.
	Categories []Facet
	Agencies   []Facet
}

// Facet is one category or agency and how many results it has.
type Facet struct {
	ID    string
	Count int
}

type candidate struct {
	id, agency, category, sort string
	version                    int
	// tier is 1 when the query matched in the request's language, 0
	// when only in the other: the request's language ranks first.
	tier  int
	score int
}

// Search finds published services (latest versions): every query term
// must match (title, keywords, category, agency name or summary, in
// Lang); results are ranked by weighted field matches and then title, or
// by title alone when browsing. Matching runs in the engine's full-text
// index (FTS5 or tsvector); ranking runs here, so both engines return the
// same ids in the same order for the same data.
func (s *Service) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	lang := English
	if req.Lang == Spanish {
		lang = Spanish
	}
	q, err := ParseQuery(lang, req.Q)
	if err != nil {
		return SearchResult{}, err
	}
	for _, f := range []struct{ name, v string }{{"category", req.Category}, {"agency", req.Agency}} {
		// PostgreSQL refuses NUL and invalid UTF-8 in text parameters;
		// refuse them first so they are the visitor's error, not a 500.
		if len(f.v) > 100 || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return SearchResult{}, platform.Invalid(f.name, "catalog.search.filter")
		}
	}
	other := Spanish
	if lang == Spanish {
		other = English
	}
	oq, err := ParseQuery(other, req.Q)
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Query: q, Other: oq, Page: max(req.Page, 1)}
	// Text that is only stop words in the interface's language browses,
	// even if the other language would keep a word of it ("the of").
	if len(q.Terms) == 0 {
		res.Other = Query{}
		if err := s.browse(ctx, lang, req, &res); err != nil {
			return SearchResult{}, fmt.Errorf("catalog: browse: %w", err)
		}
		return res, nil
	}
	cands, err := s.candidates(ctx, lang, q, other, oq)
	if err != nil {
		return SearchResult{}, fmt.Errorf("catalog: search: %w", err)
	}
	cats, ags := map[string]int{}, map[string]int{}
	var hits []candidate
	for _, c := range cands {
		inCat := req.Category == "" || c.category == req.Category
		inAgency := req.Agency == "" || c.agency == req.Agency
		if inAgency {
			cats[c.category]++
		}
		if inCat {
			ags[c.agency]++
		}
		if inCat && inAgency {
			hits = append(hits, c)
		}
	}
	res.Categories, res.Agencies = facets(cats), facets(ags)
	slices.SortFunc(hits, func(a, b candidate) int {
		return cmp.Or(b.tier-a.tier, b.score-a.score, strings.Compare(a.sort, b.sort), strings.Compare(a.id, b.id))
	})
	res.Total = len(hits)
	res.Pages = (len(hits) + PageSize - 1) / PageSize
	from := (res.Page - 1) * PageSize
	if from >= len(hits) {
		return res, nil
	}
	hits = hits[from:min(from+PageSize, len(hits))]
	res.Services, err = s.versions(ctx, hits)
	if err != nil {
		return SearchResult{}, fmt.Errorf("catalog: search: %w", err)
	}
	return res, nil
}

func facets(m map[string]int) []Facet {
	out := make([]Facet, 0, len(m))
	for id, n := range m {
		out = append(out, Facet{ID: id, Count: n})
	}
	slices.SortFunc(out, func(a, b Facet) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// browse fills res for a request without words: the page, the total and
// the facets are computed by the engine (the sort keys are ASCII and
// compared bytewise on both engines), so browsing never reads every row.
func (s *Service) browse(ctx context.Context, lang string, req SearchRequest, res *SearchResult) error {
	sortCol := "sort_" + lang // lang is English or Spanish, never input
	db := s.db.Read()
	// Only the filters given become conditions, so each query can use its
	// index (category, agency, or the sort key).
	where := func(conds map[string]string) (string, []any) {
		var parts []string
		var args []any
		for _, col := range []string{"category", "agency_id"} {
			if v := conds[col]; v != "" {
				args = append(args, v)
				parts = append(parts, col+" = $"+strconv.Itoa(len(args)))
			}
		}
		if len(parts) == 0 {
			return "", nil
		}
		return " WHERE " + strings.Join(parts, " AND "), args
	}
	both, args := where(map[string]string{"category": req.Category, "agency_id": req.Agency})
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_search`+both, args...).Scan(&res.Total); err != nil {
		return err
	}
	res.Pages = (res.Total + PageSize - 1) / PageSize
	var err error
	byAgency, aargs := where(map[string]string{"agency_id": req.Agency})
	if res.Categories, err = s.facetCounts(ctx, `SELECT category, COUNT(*) FROM catalog_search`+byAgency+` GROUP BY category`, aargs...); err != nil {
		return err
	}
	byCategory, cargs := where(map[string]string{"category": req.Category})
	if res.Agencies, err = s.facetCounts(ctx, `SELECT agency_id, COUNT(*) FROM catalog_search`+byCategory+` GROUP BY agency_id`, cargs...); err != nil {
		return err
	}
	from := (res.Page - 1) * PageSize
	if from >= res.Total {
		return nil
	}
	rows, err := db.QueryContext(ctx, `SELECT service_id, version FROM catalog_search`+both+
		` ORDER BY `+sortCol+`, service_id LIMIT `+strconv.Itoa(PageSize)+` OFFSET `+strconv.Itoa(from), args...)
	if err != nil {
		return err
	}
	var hits []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.version); err != nil {
			rows.Close()
			return err
		}
		hits = append(hits, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	res.Services, err = s.versions(ctx, hits)
	return err
}

func (s *Service) facetCounts(ctx context.Context, query string, args ...any) ([]Facet, error) {
	rows, err := s.db.Read().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Facet{}
	for rows.Next() {
		var f Facet
		if err := rows.Scan(&f.ID, &f.Count); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Facet) int { return strings.Compare(a.ID, b.ID) })
	return out, rows.Err()
}

// candidates returns every indexed service matching all of q's terms in
// lang's text, or all of oq's terms in other's text, scored.
func (s *Service) candidates(ctx context.Context, lang string, q Query, other string, oq Query) ([]candidate, error) {
	// lang and other are English or Spanish, never input.
	sortCol := "sort_" + lang
	var rows *sql.Rows
	var err error
	switch {
	case s.db.Dialect == storage.Postgres:
		// Terms are [a-z0-9]+ and joined by spaces; plainto_tsquery
		// reads no operators, and 'simple' neither stems nor drops words.
		var conds []string
		var args []any
		for _, side := range []struct {
			lang string
			q    Query
		}{{lang, q}, {other, oq}} {
			if len(side.q.Terms) > 0 {
				args = append(args, strings.Join(side.q.Terms, " "))
				conds = append(conds, `tsv_`+side.lang+` @@ plainto_tsquery('simple', $`+strconv.Itoa(len(args))+`)`)
			}
		}
		rows, err = s.db.Read().QueryContext(ctx, `SELECT service_id, version, agency_id, category, `+sortCol+`, terms_`+lang+`, terms_`+other+`
			FROM catalog_search WHERE `+strings.Join(conds, " OR "), args...)
	default:
		// Each term is quoted as an FTS5 string and limited to its
		// language's column; terms are [a-z0-9]+, so quoting is belt and
		// braces against FTS5 query syntax.
		var sides []string
		for _, side := range []struct {
			lang string
			q    Query
		}{{lang, q}, {other, oq}} {
			if len(side.q.Terms) == 0 {
				continue
			}
			match := make([]string, len(side.q.Terms))
			for i, t := range side.q.Terms {
				match[i] = `terms_` + side.lang + ` : "` + t + `"`
			}
			sides = append(sides, "("+strings.Join(match, " AND ")+")")
		}
		rows, err = s.db.Read().QueryContext(ctx, `SELECT c.service_id, c.version, c.agency_id, c.category, c.`+sortCol+`, c.terms_`+lang+`, c.terms_`+other+`
			FROM catalog_fts JOIN catalog_search c ON c.rid = catalog_fts.rowid WHERE catalog_fts MATCH $1`, strings.Join(sides, " OR "))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []candidate
	for rows.Next() {
		var c candidate
		var terms, otherTerms string
		if err := rows.Scan(&c.id, &c.version, &c.agency, &c.category, &c.sort, &terms, &otherTerms); err != nil {
			return nil, err
		}
		if score, all := scoreMatch(terms, q); all {
			c.tier, c.score = 1, score
		} else if score, all := scoreMatch(otherTerms, oq); all {
			c.score = score
		} else {
			continue
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// versions loads the published versions of hits, in their order.
func (s *Service) versions(ctx context.Context, hits []candidate) ([]Published, error) {
	var where []string
	var args []any
	for _, h := range hits {
		where = append(where, fmt.Sprintf("(id = $%d AND version = $%d)", len(args)+1, len(args)+2))
		args = append(args, h.id, h.version)
	}
	rows, err := s.db.Read().QueryContext(ctx, columns+`WHERE `+strings.Join(where, " OR "), args...)
	if err != nil {
		return nil, err
	}
	ps, err := scan(rows)
	if err != nil {
		return nil, err
	}
	byID := map[string]Published{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	out := make([]Published, 0, len(hits))
	for _, h := range hits {
		if p, ok := byID[h.id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}
